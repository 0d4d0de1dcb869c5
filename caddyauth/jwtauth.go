// Package caddyauth adapts Gatehouse to Caddy: the jwt_auth HTTP handler and its Caddyfile syntax.
// The verifying itself lives in the verify, keys and token packages, which import no Caddy.
package caddyauth

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/gatehouse-dev/gatehouse/internal/cors"
	"github.com/gatehouse-dev/gatehouse/internal/keys"
	"github.com/gatehouse-dev/gatehouse/internal/oidcrp"
	"github.com/gatehouse-dev/gatehouse/internal/token"
	"github.com/gatehouse-dev/gatehouse/internal/verify"
)

func init() {
	caddy.RegisterModule(JWTAuth{})
}

// JWTAuth is the http.handlers.jwt_auth module: it verifies a JSON Web Token on every request,
// refuses with 401/403 (a simplejwt-shaped JSON body and an RFC 6750 WWW-Authenticate header), and
// on success sets {http.auth.user.*} placeholders and forwards chosen claims as request headers.
// Without key settings (secret, public_keys, jwks_files, jwks_urls) it trusts the keys of the
// jwt_issuer handlers of its own site, or of those it names (issuer_names).
type JWTAuth struct {
	// HMAC secret (HS256/384/512), at least 32 bytes. Placeholders such as {env.JWT_SECRET} or
	// {file./run/secrets/jwt} are resolved at provision time, so the secret itself need not be in
	// the config.
	Secret string `json:"secret,omitempty"`
	// Paths of PEM files holding SPKI public keys (RSA >= 2048 bits, ECDSA P-256/384/521, Ed25519).
	PublicKeys []string `json:"public_keys,omitempty"`
	// Paths of JWK Set files.
	JWKSFiles []string `json:"jwks_files,omitempty"`
	// Remote JWK Sets, fetched in the background.
	JWKSURLs []JWKSURL `json:"jwks_urls,omitempty"`
	// Allow-list of JWS algorithms; empty means every algorithm the keys support. "none" is refused.
	Algorithms []string `json:"algorithms,omitempty"`
	// Accepted iss values; when set, iss is required.
	Issuers []string `json:"issuers,omitempty"`
	// Accepted aud values; when set, aud is required.
	Audiences []string `json:"audiences,omitempty"`
	// Clock skew allowed for exp, nbf and iat, at most 5m. Unset (null) means the default: 60s
	// when keys are configured (tokens from other issuers, whose clocks differ), 0 when the
	// handler trusts only this Caddy's jwt_issuer (one clock). 0 sets no leeway.
	Leeway *caddy.Duration `json:"leeway,omitempty"`
	// The token_type rule: empty (a token carrying token_type must say "access"), "off", or the
	// value the claim must have.
	TokenType string `json:"token_type,omitempty"`
	// Accepted JOSE header typ values, e.g. ["at+jwt"] for RFC 9068 access tokens; when set, typ
	// is required and must be one of these, compared case-insensitively with "application/"
	// optional (RFC 7515 §4.1.9). Unset: typ is not checked.
	Typ []string `json:"typ,omitempty"`
	// Where to read the token from, in order. Default: the Authorization header, Bearer scheme.
	Sources []TokenSource `json:"sources,omitempty"`
	// Claims tried in order; the first present becomes {http.auth.user.id}. Default: sub, user_id.
	UserClaims []string `json:"user_claims,omitempty"`
	// Claims forwarded to upstream handlers as request headers. A client-sent copy of each header
	// is always deleted first.
	ForwardClaims []ForwardClaim `json:"forward_claims,omitempty"`
	// Claim rules that must all hold, else 403.
	Require []Requirement `json:"require,omitempty"`
	// When true, a request without a token continues anonymously; a bad token is still refused.
	Optional bool `json:"optional,omitempty"`
	// Largest accepted token in bytes, checked before decoding. Default 8192.
	MaxTokenSize int `json:"max_token_size,omitempty"`
	// The realm in WWW-Authenticate. Default "api" (as in simplejwt's contract).
	Realm string `json:"realm,omitempty"`
	// How many verified tokens to remember, so that a token sent again costs a lookup instead of
	// a signature check. Expiry and the key set are still checked on every request, and refused
	// tokens are never kept. 0 means the default (10000), -1 turns the cache off.
	CacheSize int `json:"cache_size,omitempty"`
	// The base path of a jwt_issuer with session on (e.g. "/api/token"), of this handler's site
	// or among the issuers named by issuer_names: the token is then also read from that issuer's
	// access cookie, an expired one is renewed in-line with the refresh cookie, state-changing
	// requests carried by the cookie must come from the site's own pages, and a browser without
	// a session is redirected to the login page.
	Session string `json:"session,omitempty"`
	// The browser session from another OpenID provider (jwt_auth as a relying party), instead
	// of a jwt_issuer's: see OIDCSession. Not with session.
	SessionOIDC *OIDCSession `json:"session_oidc,omitempty"`
	// Names of jwt_issuer handlers (their name setting) of this configuration whose keys are
	// trusted and whose sessions session may use, whatever site they are in. Without
	// issuer_names and without key settings, the handler trusts the jwt_issuer handlers of its
	// own site only.
	IssuerNames []string `json:"issuer_names,omitempty"`
	// How CORS preflight requests are answered (see CORS). Without it a preflight needs a
	// token like any other request, so no request reaches the next handler unauthenticated.
	CORS *CORS `json:"cors,omitempty"`
	// Where the handler was configured, e.g. "Caddyfile:12": set by the Caddyfile adapter, used
	// in error messages only, so that a key file or secret Provision cannot load is reported at
	// its directive.
	Source string `json:"source,omitempty"`

	verifier  *verify.Verifier
	extractor verify.Extractor
	// forward holds the forwarded claims with canonical header names; forwardHeaders is every
	// such header, deleted from each request before anything else happens.
	forward        []ForwardClaim
	forwardHeaders []string
	// remoteKeys are this handler's references in remotes, released by Cleanup; remoteSources
	// the Remotes themselves, for the metrics.
	remoteKeys    []string
	remoteSources []sourcedRemote
	// unwatch ends the metrics' reading of the cache and the Remotes (see appMetrics).
	unwatch    func()
	challenges challenges
	cors       *cors.Policy // nil without cors origins
	metrics    *authMetrics
	logger     *zap.Logger

	link           *issuerLink
	unregisterAuth func()
	rp             *oidcrp.RP // with session oidc
}

// issuerLink is how a jwt_auth reaches the issuers of its configuration: the gatehouse app,
// what it uses of the app's issuers (trust), and what that resolved to in the app's current
// state (bound, see binding).
type issuerLink struct {
	app   *App
	trust trust
	bound atomic.Pointer[binding]
}

// JWKSURL is a remote JWK Set.
type JWKSURL struct {
	// The https URL of the set (http only to a loopback host).
	URL string `json:"url"`
	// How often to fetch it again. Default 1h.
	Refresh caddy.Duration `json:"refresh,omitempty"`
}

// TokenSource is one place a token may be read from.
type TokenSource struct {
	// "header", "cookie" or "query".
	From string `json:"from"`
	// The header, cookie or query parameter name.
	Name string `json:"name"`
	// For headers: accepted auth schemes (case-insensitive). Empty: the whole value is the token.
	Schemes []string `json:"schemes,omitempty"`
}

// ForwardClaim sends a claim's value to upstream handlers in a request header.
type ForwardClaim struct {
	// The claim name; nested claims by dotted path.
	Claim string `json:"claim"`
	// The request header to set.
	Header string `json:"header"`
}

// Requirement is a claim that must equal (or, for an array, contain) one of Values.
type Requirement struct {
	// The claim name; nested claims by dotted path.
	Claim string `json:"claim"`
	// Accepted values.
	Values []string `json:"values"`
}

// CaddyModule returns the Caddy module information.
func (JWTAuth) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.jwt_auth",
		New: func() caddy.Module { return new(JWTAuth) },
	}
}

// defaultRealm is the WWW-Authenticate realm when none is configured.
const defaultRealm = "api"

// defaultUserClaims are tried for {http.auth.user.id} when user_claim is not set: sub (RFC 7519)
// and then user_id (simplejwt's USER_ID_CLAIM).
var defaultUserClaims = []string{"sub", "user_id"}

// remotes shares remote JWK Sets across config reloads: a reload that keeps a jwks_url keeps its
// Remote, with the keys already fetched, instead of starting over with an empty set (which would
// refuse every token until the first fetch of the new config succeeded).
var remotes = caddy.NewUsagePool()

// pooledRemote is a Remote in the pool; Destruct stops it when the last config using it is gone.
type pooledRemote struct{ *keys.Remote }

// Destruct implements caddy.Destructor.
func (p pooledRemote) Destruct() error {
	p.Stop()
	return nil
}

// Provision sets defaults, loads the keys (resolving the secret's placeholders), starts or joins
// the remote JWK Sets and builds the verifier. Its errors start with Source.
func (j *JWTAuth) Provision(ctx caddy.Context) (err error) {
	defer func() { err = withSource(j.Source, err) }()
	j.logger = ctx.Logger()
	if j.Realm == "" {
		j.Realm = defaultRealm
	}
	if len(j.UserClaims) == 0 {
		j.UserClaims = append([]string(nil), defaultUserClaims...)
	}
	if len(j.Sources) == 0 {
		for _, s := range verify.DefaultSources {
			j.Sources = append(j.Sources, TokenSource{From: s.From, Name: s.Name, Schemes: append([]string(nil), s.Schemes...)})
		}
	}
	if j.MaxTokenSize == 0 {
		j.MaxTokenSize = verify.DefaultMaxTokenSize
	}
	// Caddy validates after provisioning; checking first means a bad config starts no fetcher.
	if err := j.Validate(); err != nil {
		return err
	}

	static, err := j.loadStaticKeys()
	if err != nil {
		return err
	}
	var providers []keys.Provider
	if len(static) > 0 {
		if static, err = keys.Restrict(static, j.Algorithms); err != nil {
			return fmt.Errorf("algorithms: %w", err)
		}
		providers = append(providers, keys.Static{Set: keys.NewSet(static...)})
	}
	for _, u := range j.JWKSURLs {
		r, err := j.joinRemote(u)
		if err != nil {
			return err
		}
		providers = append(providers, r)
		j.remoteSources = append(j.remoteSources, sourcedRemote{source: jwksSource(u.URL), remote: r})
	}
	// The issuers of the configuration: the named ones, or without names and key settings the
	// ones of this handler's site; with none, every token is refused (no_keys_loaded). The app
	// warns at start when none is there.
	app, err := loadApp(ctx)
	if err != nil {
		return err
	}
	j.link = &issuerLink{app: app, trust: trust{
		names:   j.IssuerNames,
		keys:    !j.hasKeySettings() || len(j.IssuerNames) > 0,
		session: j.Session,
	}}
	if j.link.trust.keys {
		providers = append(providers, issuerKeys{j.link})
	}
	j.unregisterAuth = app.registerAuth(j)

	policy := verify.Policy{
		Algorithms:   j.Algorithms,
		Issuers:      j.Issuers,
		Audiences:    j.Audiences,
		Leeway:       j.leeway(),
		TokenType:    j.TokenType,
		Types:        j.Typ,
		MaxTokenSize: j.MaxTokenSize,
		CacheSize:    j.CacheSize,
		// Claims that end up in request headers or as the user id must be header-safe.
		SafeClaims: append([]string(nil), j.UserClaims...),
	}
	for _, rq := range j.Require {
		policy.Require = append(policy.Require, verify.Requirement{Claim: rq.Claim, Values: rq.Values})
	}
	j.forward, j.forwardHeaders = nil, nil
	for _, fc := range j.ForwardClaims {
		h := http.CanonicalHeaderKey(fc.Header)
		j.forward = append(j.forward, ForwardClaim{Claim: fc.Claim, Header: h})
		j.forwardHeaders = append(j.forwardHeaders, h)
		policy.SafeClaims = append(policy.SafeClaims, fc.Claim)
	}
	if j.verifier, err = verify.New(policy, keys.NewMulti(providers...), nil); err != nil {
		return err
	}
	if j.SessionOIDC != nil {
		if err := j.provisionRP(ctx, policy); err != nil {
			return err
		}
	}

	j.extractor = verify.Extractor{}
	for _, s := range j.Sources {
		j.extractor.Sources = append(j.extractor.Sources, verify.Source{From: s.From, Name: s.Name, Schemes: s.Schemes})
	}
	j.challenges = newChallenges(j.Realm)
	if j.CORS != nil {
		if j.cors, err = j.CORS.policy(); err != nil {
			return err
		}
	}
	if j.metrics, err = newAuthMetrics(ctx.GetMetricsRegistry()); err != nil {
		return err
	}
	j.unwatch = app.metrics.watch(j)
	return nil
}

// loadStaticKeys reads the secret, the PEM files and the JWK Set files, and checks that each
// allows one of the configured algorithms, naming the one that does not.
func (j *JWTAuth) loadStaticKeys() ([]*keys.Key, error) {
	var ks []*keys.Key
	add := func(origin string, group ...*keys.Key) error {
		if len(j.Algorithms) > 0 {
			if _, err := keys.Restrict(group, j.Algorithms); err != nil {
				return fmt.Errorf("%s: %v; add the key's algorithm to algorithms or remove the key", origin, err)
			}
		}
		ks = append(ks, group...)
		return nil
	}
	if j.Secret != "" {
		k, err := loadSecret(j.Secret)
		if err != nil {
			return nil, err
		}
		if err := add("secret", k); err != nil {
			return nil, err
		}
	}
	for _, p := range j.PublicKeys {
		k, err := loadPEM(p)
		if err != nil {
			return nil, err
		}
		if err := add("public_key "+p, k); err != nil {
			return nil, err
		}
	}
	for _, p := range j.JWKSFiles {
		set, skipped, err := loadJWKS(p)
		if err != nil {
			return nil, err
		}
		// A key of the file that is not used is said once, at load, with its kid and why.
		for _, sk := range skipped {
			j.logger.Warn("JWK Set key skipped", zap.String("jwks_file", p), zap.Int("index", sk.Index),
				zap.String("kid", sk.Kid), zap.String("reason", sk.Reason))
		}
		if err := add("jwks_file "+p, set...); err != nil {
			return nil, err
		}
	}
	return ks, nil
}

// leeway is the configured leeway, or the default: verify.DefaultLeeway for a handler with key
// settings, whose tokens may come from issuers with other clocks; none for one that trusts only
// the jwt_issuer of this Caddy, which shares its clock (and whose session renews an expired
// access cookie the moment it expires).
func (j *JWTAuth) leeway() time.Duration {
	switch {
	case j.Leeway != nil:
		return time.Duration(*j.Leeway)
	case j.hasKeySettings():
		return verify.DefaultLeeway
	}
	return 0
}

// joinRemote returns the pooled Remote for u, creating and starting it if no loaded config uses
// the same URL, refresh interval and algorithms, and records the reference for Cleanup.
func (j *JWTAuth) joinRemote(u JWKSURL) (*keys.Remote, error) {
	key := u.URL + "\x00" + time.Duration(u.Refresh).String() + "\x00" + strings.Join(j.Algorithms, ",")
	val, _, err := remotes.LoadOrNew(key, func() (caddy.Destructor, error) {
		r, err := keys.NewRemote(keys.RemoteOptions{
			URL:     u.URL,
			Refresh: time.Duration(u.Refresh),
			Allowed: j.Algorithms,
			// The Remote may outlive this config (a reload keeps it), so it logs to the process
			// logger rather than to this config's, under the same name.
			Logger: caddy.Log().Named("http.handlers.jwt_auth").Sugar(),
		})
		if err != nil {
			return nil, err
		}
		r.Start()
		return pooledRemote{r}, nil
	})
	if err != nil {
		return nil, err
	}
	j.remoteKeys = append(j.remoteKeys, key)
	return val.(pooledRemote).Remote, nil
}

// Validate checks the configuration; the Caddyfile parser runs the same checks with file:line.
// It reads no file and resolves no placeholder: Provision does. Its errors start with Source.
func (j *JWTAuth) Validate() (err error) {
	defer func() { err = withSource(j.Source, err) }()
	if err := keys.CheckAlgorithms(j.Algorithms); err != nil {
		return fmt.Errorf("algorithms: %w", err)
	}
	if j.Secret != "" {
		if err := checkSecret(j.Secret); err != nil {
			return err
		}
	}
	for _, set := range []struct {
		name  string
		paths []string
	}{{"public_key", j.PublicKeys}, {"jwks_file", j.JWKSFiles}} {
		for _, p := range set.paths {
			if err := checkFileName(set.name, p); err != nil {
				return err
			}
		}
	}
	for _, n := range j.IssuerNames {
		if err := checkIssuerName(n); err != nil {
			return fmt.Errorf("issuer_name: %w", err)
		}
	}
	if j.CORS != nil {
		if _, err := j.CORS.policy(); err != nil {
			return err
		}
	}
	if j.Leeway != nil {
		if err := checkLeeway(time.Duration(*j.Leeway)); err != nil {
			return err
		}
	}
	if err := verify.CheckTypes(j.Typ); err != nil {
		return err
	}
	if err := checkCacheSize(j.CacheSize); err != nil {
		return err
	}
	if j.MaxTokenSize != 0 {
		if err := checkMaxTokenSize(j.MaxTokenSize); err != nil {
			return err
		}
	}
	if err := checkTokenType(j.TokenType); err != nil {
		return err
	}
	if j.Session != "" {
		if err := checkSessionBase(j.Session); err != nil {
			return err
		}
		if err := checkSessionSources(j.Session, j.Sources); err != nil {
			return err
		}
	}
	if j.SessionOIDC != nil {
		if j.Session != "" {
			return errSessionBoth
		}
		if err := checkSessionSources("oidc", j.Sources); err != nil {
			return err
		}
		if err := j.SessionOIDC.check(); err != nil {
			return err
		}
	}
	if j.Realm != "" {
		if err := checkRealm(j.Realm); err != nil {
			return err
		}
	}
	for _, u := range j.JWKSURLs {
		if err := checkJWKSURL(u.URL, time.Duration(u.Refresh)); err != nil {
			return err
		}
	}
	for _, s := range j.Sources {
		if err := checkSource(s); err != nil {
			return err
		}
	}
	for _, set := range []struct {
		name   string
		values []string
	}{{"user_claim", j.UserClaims}, {"issuer", j.Issuers}, {"audience", j.Audiences}} {
		if err := checkNonEmpty(set.name, set.values); err != nil {
			return err
		}
	}
	for _, fc := range j.ForwardClaims {
		if err := checkForward(fc, j.Sources); err != nil {
			return err
		}
	}
	for _, rq := range j.Require {
		if err := checkRequirement(rq); err != nil {
			return err
		}
	}
	return nil
}

// Cleanup releases this handler's remote JWK Sets; the last user of one stops it. It may run more
// than once (Caddy also calls it after a failed Provision).
func (j *JWTAuth) Cleanup() error {
	if j.unwatch != nil {
		j.unwatch()
		j.unwatch = nil
	}
	if j.unregisterAuth != nil {
		j.unregisterAuth()
		j.unregisterAuth = nil
	}
	for _, key := range j.remoteKeys {
		if _, err := remotes.Delete(key); err != nil {
			return err
		}
	}
	j.remoteKeys, j.remoteSources = nil, nil
	return nil
}

// ServeHTTP verifies the request's token and calls next, or refuses the request.
func (j *JWTAuth) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	// Client-sent copies of the identity headers go first, whatever happens next, so a spoofed
	// identity never reaches an upstream (not on a preflight, an anonymous or a refused request).
	verify.RemoveHeaders(r.Header, j.forwardHeaders)
	j.hideQueryTokens(r)
	if cors.IsPreflight(r) {
		if done, err := j.servePreflight(w, r, next); done {
			return err
		}
	}
	if j.cors != nil {
		j.cors.Actual(w.Header(), r)
	}
	if j.Session != "" {
		return j.serveSession(w, r, next)
	}
	if j.rp != nil {
		return j.serveOIDC(w, r, next)
	}

	raw, found, err := j.extractor.Extract(r)
	if err != nil {
		return j.refuse(w, r, verify.AsError(err))
	}
	if !found {
		if j.Optional {
			j.metrics.count(resultAnonymous)
			return next.ServeHTTP(w, r)
		}
		return j.refuse(w, r, verify.ErrMissing)
	}
	claims, err := j.verifier.Verify(r.Context(), raw)
	if err != nil {
		return j.refuse(w, r, verify.AsError(err))
	}
	return j.admit(w, r, claims, next, resultOK)
}

// admit lets a request with verified claims through: it sets the placeholders and the
// forwarded headers, counts result and calls next.
func (j *JWTAuth) admit(w http.ResponseWriter, r *http.Request, claims *token.Claims, next caddyhttp.Handler, result string) error {
	if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		setUserPlaceholders(repl, claims, j.UserClaims)
	}
	if len(j.forward) > 0 {
		// One slice for all the values, each header a piece of it with room for one.
		var vals []string
		if a, ok := next.(answerer); ok {
			vals = a.claimValues(len(j.forward))
		} else {
			vals = make([]string, len(j.forward))
		}
		for i, fc := range j.forward {
			verify.ForwardClaim(r.Header, claims, fc.Claim, fc.Header, vals[i:i+1:i+1])
		}
	}
	j.metrics.count(result)
	if a, ok := next.(answerer); ok {
		return a.admitted(w, r, claims) // jwt_forward_auth: the answer to the proxy
	}
	return next.ServeHTTP(w, r)
}

// refuse records why the request was refused (placeholders, debug log, metrics) and answers it.
func (j *JWTAuth) refuse(w http.ResponseWriter, r *http.Request, e *verify.Error) error {
	if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		repl.Set("http.auth.jwt.error", string(e.Reason))
		repl.Set("http.auth.jwt.error_description", e.Description)
	}
	j.logRefused("request refused", e)
	j.metrics.count(string(e.Reason))
	return j.challenges.respond(w, r, e)
}

// logRefused logs a refused token at debug level: the reason and description only, never the
// token or a claim value.
func (j *JWTAuth) logRefused(msg string, e *verify.Error) {
	if c := j.logger.Check(zapcore.DebugLevel, msg); c != nil {
		c.Write(zap.String("reason", string(e.Reason)), zap.String("description", e.Description))
	}
}

// binding is what a jwt_auth uses of the app's issuers now. It is resolved again only when
// the app's issuers change, which in a running configuration they do not: a request costs two
// atomic loads.
func (l *issuerLink) binding() *binding {
	_ = l.app.place() // an error stops the configuration at Start; the handlers stay as they are
	st := l.app.state.Load()
	if b := l.bound.Load(); b != nil && b.state == st {
		return b
	}
	b := st.resolve(l.trust)
	l.bound.Store(b)
	return b
}

// issuerKeys is the keys.Provider of the issuers a jwt_auth trusts.
type issuerKeys struct{ l *issuerLink }

// Current implements keys.Provider: the keys of the trusted issuers, an empty set while there
// are none, so that tokens are refused, never accepted.
func (p issuerKeys) Current() *keys.Set { return p.l.binding().keys.Current() }

// hasKeySettings reports whether keys are configured; without, the handler trusts the
// jwt_issuer handlers of the same Caddy.
func (j *JWTAuth) hasKeySettings() bool {
	return j.Secret != "" || len(j.PublicKeys) > 0 || len(j.JWKSFiles) > 0 || len(j.JWKSURLs) > 0
}

// Interface guards
var (
	_ caddy.Provisioner           = (*JWTAuth)(nil)
	_ caddy.Validator             = (*JWTAuth)(nil)
	_ caddy.CleanerUpper          = (*JWTAuth)(nil)
	_ caddyhttp.MiddlewareHandler = (*JWTAuth)(nil)
	_ caddy.Destructor            = pooledRemote{}
	_ keys.Provider               = issuerKeys{}
)
