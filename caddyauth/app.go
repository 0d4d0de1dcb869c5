package caddyauth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/gatehouse-dev/gatehouse/internal/keys"
	"github.com/gatehouse-dev/gatehouse/issuer"
)

func init() {
	caddy.RegisterModule(App{})
}

// App is the gatehouse Caddy app: what the Gatehouse handlers of one configuration share, as
// Caddy's pki app is for its acme_server handlers. Every jwt_issuer registers its keys and
// sessions here; every jwt_auth finds here the issuers it trusts: the ones it names
// (issuer_names), or else the ones of its own site. The app belongs to one configuration: a
// reload builds a new one, so nothing of an old configuration is trusted by a new one, and one
// site's jwt_auth never trusts another site's issuer unless the configuration names it.
//
// Handlers load it with ctx.App("gatehouse"), so it needs no configuration of its own.
type App struct {
	// Issuers configured once for the whole configuration, by name (lowercase letters,
	// digits, "-", "_"), each with the settings of a jwt_issuer: a `jwt_issuer <name>` of any
	// site serves one, and `jwt_auth { issuer_name <name> }` trusts it. The Caddyfile's
	// gatehouse global option fills this.
	Issuers map[string]*IssuerConfig `json:"issuers,omitempty"`

	// The state lives behind a pointer, so that the module value Caddy copies holds no lock.
	*registry
}

// registry is the state of an App.
type registry struct {
	mu      sync.Mutex // serializes changes of issuers and auths
	nextID  uint64
	issuers []*issuerEntry // in registration order
	auths   map[*JWTAuth]struct{}
	cores   map[string]*issuerCore // the issuers built, by name

	// stop ends the maintenance of the issuers, stopped is closed once it has.
	stop    context.CancelFunc
	stopped chan struct{}
	// retired is set by Stop: the configuration is being replaced or ended, and its issuers
	// stay registered (see registerIssuer).
	retired bool

	// state is the published, immutable list of issuers; a jwt_auth resolves what it trusts
	// from it once per change (see JWTAuth.binding), not once per request.
	state  atomic.Pointer[appState]
	logger *zap.Logger

	// ctx is the configuration's context, through which placeServers finds the http app;
	// placed guards that it runs once, before anything is resolved.
	ctx       caddy.Context
	placed    sync.Once
	placedErr error
}

// appState is one published list of the registered issuers.
type appState struct {
	issuers []*issuerEntry
}

// issuerEntry is one registered jwt_issuer.
type issuerEntry struct {
	id     uint64
	name   string // the issuer's name, defaultIssuer for a handler without one
	inline bool   // the handler configured the issuer itself
	// site identifies the site the handler is in (see siteKey); issuers and jwt_auth handlers
	// of one site have equal sites.
	site     any
	handler  *JWTIssuer
	base     string
	keys     keys.Provider
	sessions *issuer.Sessions // nil without session
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "gatehouse",
		New: func() caddy.Module { return newApp() },
	}
}

func newApp() *App {
	a := &App{registry: &registry{auths: make(map[*JWTAuth]struct{}), cores: make(map[string]*issuerCore), logger: zap.NewNop()}}
	a.state.Store(new(appState))
	return a
}

// Provision sets up the app's logger and keeps the configuration's context.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	a.ctx = ctx
	for name, cfg := range a.Issuers {
		if err := checkIssuerName(name); err != nil {
			return fmt.Errorf("gatehouse issuer: %w", err)
		}
		if cfg == nil {
			return fmt.Errorf("gatehouse issuer %s: give its settings, e.g. users_file", name)
		}
		if err := cfg.validate(); err != nil {
			return withSource(cfg.Source, fmt.Errorf("gatehouse issuer %s: %w", name, err))
		}
	}
	return nil
}

// Start runs once every handler of the configuration is provisioned: it places the handlers
// that are in no subroute by their server, refuses unnamed issuers in two sites and a jwt_auth
// that names an issuer the configuration does not have, and warns about one that trusts no
// issuer.
func (a *App) Start() error {
	if err := a.place(); err != nil {
		return err
	}
	a.mu.Lock()
	auths := make([]*JWTAuth, 0, len(a.auths))
	for j := range a.auths {
		auths = append(auths, j)
	}
	a.mu.Unlock()
	st := a.state.Load()
	for _, j := range auths {
		if err := st.check(j.link.trust, j.Source, a.logger); err != nil {
			return err
		}
	}
	mctx, stop := context.WithCancel(context.Background())
	a.stop, a.stopped = stop, make(chan struct{})
	go a.maintainIssuers(mctx, a.stopped)
	return nil
}

// Stop ends the maintenance of the issuers and retires the app: from now on the handlers'
// Cleanup leaves their issuers registered. On a reload Caddy stops the old configuration's
// servers without waiting for the requests they are still serving (the grace period lets those
// finish) and cleans its modules up at once; a request past that point must still be
// authenticated by the issuers it was sent to, not refused because they were unregistered.
func (a *App) Stop() error {
	a.mu.Lock()
	a.retired = true
	a.mu.Unlock()
	if a.stop != nil {
		a.stop()
		<-a.stopped
		a.stop = nil
	}
	return nil
}

// loadApp returns the gatehouse app of the configuration being provisioned. Tests replace it,
// as their caddy.Context has no configuration to load an app into.
var loadApp = func(ctx caddy.Context) (*App, error) {
	v, err := ctx.App("gatehouse")
	if err != nil {
		return nil, err
	}
	return v.(*App), nil
}

// siteKey identifies a site of the configuration: a top-level route of a server with a host
// matcher (a Caddyfile site block with a host), or else the rest of the server (a site block
// without a host: alone on its port the Caddyfile flattens its routes into the server's, beside
// others it is one route without a matcher). Error routes and named routes are sites of their
// own.
type siteKey struct {
	srv   *caddyhttp.Server
	kind  string // "", "errors" or "named"
	route int    // index of the host-matched route; -1 for the rest of the server
	name  string // of a named route
}

// registerIssuer adds an issuer and returns the function that removes it again (callable more
// than once), unless the app is retired (see Stop). Unnamed issuers share their keys and
// revocations in storage, so they are allowed in one site only.
func (a *App) registerIssuer(e *issuerEntry) (unregister func(), err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := unnamedInOneSite(append(a.issuers, e)); err != nil {
		return nil, err
	}
	a.nextID++
	e.id = a.nextID
	a.issuers = append(a.issuers, e)
	a.publish()
	var once sync.Once
	return func() {
		once.Do(func() {
			a.mu.Lock()
			defer a.mu.Unlock()
			if a.retired {
				return // requests in flight still use it; the app goes with its configuration
			}
			a.issuers = slices.DeleteFunc(a.issuers, func(o *issuerEntry) bool { return o.id == e.id })
			a.publish()
		})
	}, nil
}

// unnamedInOneSite refuses the default issuer configured inline in two sites: it would share
// its keys and revocations between them without anyone having said so. A site still nil (not
// yet placed) is not compared.
func unnamedInOneSite(es []*issuerEntry) error {
	var first *issuerEntry
	for _, e := range es {
		if e.name != defaultIssuer || !e.inline || e.site == nil {
			continue
		}
		if first == nil {
			first = e
		} else if e.site != first.site {
			return errors.New("another site of this configuration has a jwt_issuer without a name: " +
				"give each site's jwt_issuer a name of its own (e.g. `name shop` and `name admin`); " +
				"keys, revocations and sessions are kept per name, and jwt_auth handlers trust the issuer of their own site or the ones named by issuer_name")
		}
	}
	return nil
}

// place gives every handler its site (see siteKey), once, before anything is resolved: the http
// app is provisioned by then (Start, or a first request). Until then, and in unit tests, every
// handler is in the site nil.
func (a *App) place() error {
	a.placed.Do(func() { a.placedErr = a.placeServers() })
	return a.placedErr
}

func (a *App) placeServers() error {
	if a.ctx.Context == nil {
		return nil // not provisioned by Caddy (unit tests): every handler stays in site nil
	}
	v, err := a.ctx.AppIfConfigured("http")
	if err != nil {
		return nil // no http app, so no handlers to place
	}
	httpApp, ok := v.(*caddyhttp.App)
	if !ok {
		return nil
	}
	sites := make(map[caddyhttp.MiddlewareHandler]siteKey)
	var walk func(caddyhttp.RouteList, siteKey)
	walk = func(routes caddyhttp.RouteList, site siteKey) {
		for _, rt := range routes {
			for _, h := range rt.Handlers {
				sites[h] = site
				if fa, ok := h.(*ForwardAuth); ok {
					sites[&fa.JWTAuth] = site // the jwt_auth inside is what registered
				}
				if sr, ok := h.(*caddyhttp.Subroute); ok {
					walk(sr.Routes, site)
				}
			}
		}
	}
	for _, srv := range httpApp.Servers {
		top := func(kind string, routes caddyhttp.RouteList) {
			for i, rt := range routes {
				site := siteKey{srv: srv, kind: kind, route: -1}
				if hasHostMatcher(rt) {
					site.route = i
				}
				walk(caddyhttp.RouteList{rt}, site)
			}
		}
		top("", srv.Routes)
		if srv.Errors != nil {
			top("errors", srv.Errors.Routes)
		}
		for name, rt := range srv.NamedRoutes {
			walk(caddyhttp.RouteList{*rt}, siteKey{srv: srv, kind: "named", route: -1, name: name})
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, e := range a.issuers {
		if site, ok := sites[e.handler]; ok {
			e.site = site
		}
	}
	for j := range a.auths {
		if site, ok := sites[j]; ok {
			j.link.trust.site = site
		}
	}
	a.publish()
	return unnamedInOneSite(a.issuers)
}

// hasHostMatcher reports whether a route matches on the host.
func hasHostMatcher(rt caddyhttp.Route) bool {
	for _, set := range rt.MatcherSets {
		for _, m := range set {
			switch m.(type) {
			case caddyhttp.MatchHost, *caddyhttp.MatchHost:
				return true
			}
		}
	}
	return false
}

// registerAuth records a jwt_auth, for Start's checks.
func (a *App) registerAuth(j *JWTAuth) (unregister func()) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.auths[j] = struct{}{}
	return func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		delete(a.auths, j)
	}
}

// publish makes a copy of the issuers current; the caller holds a.mu.
func (a *App) publish() {
	a.state.Store(&appState{issuers: slices.Clone(a.issuers)})
}

// trust says which registered issuers a jwt_auth uses.
type trust struct {
	// names are the issuers named by issuer_names; when empty, the issuers of site are used.
	names []string
	site  any
	// keys: trust the keys of those issuers (no key settings, or issuer_names set).
	keys bool
	// session is the base path of the issuer whose sessions are used; "" for none.
	session string
}

// binding is what a jwt_auth resolved from one appState.
type binding struct {
	state    *appState
	keys     *keys.Multi
	sessions *issuer.Sessions
	found    bool // at least one issuer is in scope
}

// inScope reports whether e is one of the issuers t uses.
func (t trust) inScope(e *issuerEntry) bool {
	if len(t.names) > 0 {
		return slices.Contains(t.names, e.name)
	}
	return e.site == t.site
}

// resolve finds what t trusts in st. Of several issuers with sessions at the base, one of the
// jwt_auth's own site wins.
func (st *appState) resolve(t trust) *binding {
	b := &binding{state: st}
	var ps []keys.Provider
	sameSite := false
	for _, e := range st.issuers {
		if !t.inScope(e) {
			continue
		}
		b.found = true
		if t.keys {
			ps = append(ps, e.keys)
		}
		if t.session != "" && e.sessions != nil && e.base == t.session && (b.sessions == nil || (!sameSite && e.site == t.site)) {
			b.sessions, sameSite = e.sessions, e.site == t.site
		}
	}
	b.keys = keys.NewMulti(ps...)
	return b
}

// check is Start's check of one jwt_auth, configured at source ("Caddyfile:12", "" for a JSON
// config): a name that no issuer has is an error (a typo would otherwise refuse every token in
// silence), which names the nearest issuer name; an issuer or session missing from the site is
// logged, and tokens are refused (fail closed). Both start with source.
func (st *appState) check(t trust, source string, logger *zap.Logger) error {
	for _, n := range t.names {
		if !slices.ContainsFunc(st.issuers, func(e *issuerEntry) bool { return e.name == n }) {
			var names []string
			for _, e := range st.issuers {
				if e.name != defaultIssuer {
					names = append(names, e.name)
				}
			}
			if best, ok := nearest(n, names); ok {
				return withSource(source, fmt.Errorf("jwt_auth issuer_name %s: this configuration has no jwt_issuer named %s; did you mean %s?", n, n, best))
			}
			return withSource(source, fmt.Errorf("jwt_auth issuer_name %s: this configuration has no jwt_issuer named %s; give the issuer `name %s`, or remove the name", n, n, n))
		}
	}
	at := ""
	if source != "" {
		at = source + ": "
	}
	b := st.resolve(t)
	scope := "in its site"
	if len(t.names) > 0 {
		scope = "named " + strings.Join(t.names, ", ")
	}
	if t.keys && !b.found {
		logger.Warn(at + "jwt_auth has no key settings and no jwt_issuer is loaded " + scope + "; " +
			"tokens are refused (no_keys_loaded) until one is: add a jwt_issuer to the site, name one with issuer_name, or set secret, public_key, jwks_file or jwks_url")
	}
	if t.session != "" && b.sessions == nil {
		logger.Warn(at+"jwt_auth session names no jwt_issuer with session on "+scope+"; browsers are sent to its login page and tokens come from headers only",
			zap.String("session", t.session))
	}
	return nil
}

// Interface guards
var (
	_ caddy.App         = (*App)(nil)
	_ caddy.Provisioner = (*App)(nil)
)
