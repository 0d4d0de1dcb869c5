package issuer

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse-dev/gatehouse/internal/kv"
	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/verify"
)

// ProviderConfig turns the issuer into an OpenID Connect provider for other apps: discovery at
// <Issuer>/.well-known/openid-configuration, the authorization code flow with PKCE, the token
// endpoint, userinfo and RP-initiated logout, built on zitadel/oidc's op package. The login
// step is the issuer's login page and session, so it needs SessionConfig.
type ProviderConfig struct {
	// Issuer is the provider's issuer identifier, exactly as RPs compare it with the ID
	// tokens' iss: scheme://host[:port] followed by the issuer's base path (discovery is at
	// Issuer + "/.well-known/openid-configuration", which the handler serves under its base).
	// https, or http to a loopback host (tests, a local setup).
	Issuer string
	// Clients are the apps that may log their users in here (at least one).
	Clients []ProviderClient
	// Storage keeps the authorization requests, codes and grants, so that several Caddy
	// instances sharing it act as one provider (required).
	Storage kv.Storage
	// Prefix is put in front of the storage keys, e.g. "gatehouse/issuer/oidc/".
	Prefix string
}

// ProviderClient is one relying party.
type ProviderClient struct {
	// ID is the client_id.
	ID string
	// SecretHash is the bcrypt hash of the client secret of a confidential client; "" for a
	// public one.
	SecretHash string
	// Public makes a client without a secret (a single-page or native app): PKCE with S256 is
	// then required.
	Public bool
	// RedirectURIs are the exact redirect URIs (no prefix or pattern match).
	RedirectURIs []string
	// PostLogoutRedirectURIs are where end_session may send the browser back to, exactly.
	PostLogoutRedirectURIs []string
	// Scopes are the scopes the client may ask for; nil means openid, profile, email and
	// offline_access. offline_access is what gets refresh tokens.
	Scopes []string
	// Claims are user claims released to the client in the ID token and userinfo whatever the
	// scopes (e.g. groups); the standard claims of the profile, email, phone and address
	// scopes are released with those scopes.
	Claims []string
}

// Provider paths under the issuer's base.
const (
	discoveryPath = "/.well-known/openid-configuration"
	authorizePath = "/authorize"
	callbackPath  = "/authorize/callback"
	resumePath    = "/authorize/resume"
	tokenPath     = "/oauth/token"
	userinfoPath  = "/userinfo"
	endSessionRel = "/end_session"
	revokePath    = "/oauth/revoke"
	introspectRel = "/oauth/introspect"
)

// codeTTL is how long an authorization code may be exchanged (RFC 6749 §4.1.2 recommends at most
// ten minutes; the issue asks for 60 seconds at most). authRequestTTL bounds the login that
// happens between the authorization request and the code.
const (
	codeTTL        = 60 * time.Second
	authRequestTTL = 10 * time.Minute
)

// defaultScopes are a client's scopes when it names none.
var defaultScopes = []string{"openid", "profile", "email", "offline_access"}

// provider is the OpenID provider of a Handler.
type provider struct {
	h       *Handler
	issuer  string
	host    string // the issuer's host[:port], lowercased: the provider answers on it only
	op      *op.Provider
	store   *opStorage
	clients map[string]*opClient
}

// newProvider checks cfg and builds the provider of h.
func newProvider(h *Handler, cfg *ProviderConfig) (*provider, error) {
	if h.sessions == nil {
		return nil, errors.New("issuer: the OpenID provider needs browser sessions (session { ... }): its login step is the login page")
	}
	if h.ring.Signer().PrivateKey() == nil {
		return nil, errors.New("issuer: the OpenID provider needs a public-key signing key (signing_key auto or file): ID tokens signed with a shared secret cannot be checked by apps against the JWKS")
	}
	if cfg.Storage == nil {
		return nil, errors.New("issuer: the OpenID provider needs storage")
	}
	u, insecure, err := CheckProviderIssuer(cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	if strings.TrimSuffix(u.Path, "/") != h.base {
		return nil, fmt.Errorf("issuer: the provider's issuer %s must end in the issuer's base path %q, where its discovery document is served (%s%s)",
			cfg.Issuer, h.base, strings.TrimSuffix(cfg.Issuer, "/"), discoveryPath)
	}
	if len(cfg.Clients) == 0 {
		return nil, errors.New("issuer: the OpenID provider has no clients; declare one with client <id> { ... }")
	}
	p := &provider{h: h, issuer: strings.TrimSuffix(cfg.Issuer, "/"), host: strings.ToLower(u.Host), clients: map[string]*opClient{}}
	for i := range cfg.Clients {
		c, err := newOPClient(p, &cfg.Clients[i])
		if err != nil {
			return nil, fmt.Errorf("issuer: %w", err)
		}
		if p.clients[c.id] != nil {
			return nil, fmt.Errorf("issuer: client %q is declared twice", c.id)
		}
		p.clients[c.id] = c
	}
	refresh, err := verify.New(verify.Policy{Issuers: []string{p.issuer}, TokenType: oidcRefreshType, CacheSize: -1}, h.ring, nil)
	if err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	access, err := verify.New(verify.Policy{Issuers: []string{p.issuer}, TokenType: oidcAccessType, CacheSize: -1}, h.ring, nil)
	if err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	p.store = &opStorage{p: p, kv: cfg.Storage, prefix: cfg.Prefix, refresh: refresh, access: access, now: time.Now}
	var key [32]byte
	// The key encrypts nothing that must survive this process: codes are looked up in the
	// shared storage and access tokens are JWTs, so each instance may have its own.
	if _, err := rand.Read(key[:]); err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	opts := []op.Option{
		op.WithCustomEndpoints(op.NewEndpoint(authorizePath[1:]), op.NewEndpoint(tokenPath[1:]), op.NewEndpoint(userinfoPath[1:]),
			op.NewEndpoint(revokePath[1:]), op.NewEndpoint(endSessionRel[1:]), op.NewEndpoint("jwks.json")),
		op.WithCustomIntrospectionEndpoint(op.NewEndpoint(introspectRel[1:])),
		// CORS is the issuer's own policy (cors { origins ... }), answered before the provider.
		op.WithCORSOptions(nil),
	}
	if insecure {
		opts = append(opts, op.WithAllowInsecure())
	}
	p.op, err = op.NewOpenIDProvider(p.issuer, &op.Config{
		CryptoKey:                key,
		DefaultLogoutRedirectURI: h.base + session.LoginPath,
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		GrantTypeRefreshToken:    true,
		SupportedScopes:          []string{"openid", "profile", "email", "phone", "address", "offline_access"},
	}, p.store, opts...)
	if err != nil {
		return nil, fmt.Errorf("issuer: the OpenID provider: %w", err)
	}
	return p, nil
}

// CheckProviderIssuer checks an OpenID provider's issuer identifier (OpenID Connect Discovery
// §3: https, no query or fragment); http is allowed to a loopback host only, which insecure
// reports.
func CheckProviderIssuer(issuer string) (u *url.URL, insecure bool, err error) {
	u, err = url.Parse(issuer)
	switch {
	case err != nil || u.Host == "" || u.User != nil || u.Opaque != "":
		return nil, false, fmt.Errorf("the provider's issuer %q must be an absolute URL such as https://auth.example.com/auth", issuer)
	case u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(issuer, "?#"):
		return nil, false, fmt.Errorf("the provider's issuer %q must have no query or fragment", issuer)
	case u.Scheme == "https":
		return u, false, nil
	case u.Scheme == "http" && loopback(u.Hostname()):
		return u, true, nil
	}
	return nil, false, fmt.Errorf("the provider's issuer %q must be https (http only to a loopback host)", issuer)
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// owns reports whether rest (a path under the base) is one of the provider's.
func (p *provider) owns(rest string) bool {
	switch rest {
	case discoveryPath, authorizePath, callbackPath, resumePath, tokenPath, userinfoPath, endSessionRel, revokePath, introspectRel:
		return true
	}
	return false
}

// exchangeKey carries the request and its writer into the op's storage calls, which get only a
// context: the storage reads the session cookie and sets or clears cookies.
type exchangeKey struct{}

type exchange struct {
	w http.ResponseWriter
	r *http.Request
	// sess is the browser's valid session, when the handler found one before the op ran.
	sess *presentedToken
}

func exchangeFrom(ctx context.Context) *exchange {
	e, _ := ctx.Value(exchangeKey{}).(*exchange)
	return e
}

// serve answers a provider path. The op's router sees the path without the base.
func (p *provider) serve(w http.ResponseWriter, r *http.Request, rest string) {
	if !strings.EqualFold(r.Host, p.host) {
		// Another site serving this issuer: the provider is at its issuer's host only, where
		// its session cookie is.
		p.h.fail(w, problemNotFound)
		return
	}
	if rest == discoveryPath || rest == userinfoPath || rest == endSessionRel || rest == authorizePath || rest == callbackPath || rest == resumePath {
		if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodPost {
			p.h.fail(w, methodNotAllowed(r.Method, "GET, HEAD, POST"))
			return
		}
	} else if r.Method != http.MethodPost {
		p.h.fail(w, methodNotAllowed(r.Method, http.MethodPost))
		return
	}
	if err := r.ParseForm(); err != nil {
		// The op would answer some of these 500.
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "the request's form or query cannot be parsed")
		return
	}
	e := &exchange{w: w, r: r}
	if (rest == authorizePath || rest == endSessionRel) && r.Method == http.MethodGet && session.CrossSiteNavigation(r) {
		if _, ok := session.Value(r, p.h.sessions.cookies.Refresh); !ok {
			// The SameSite=Strict session cookie does not come with another site's redirect:
			// open the same request again from this site, which sends it.
			p.bounce(w, r, rest)
			return
		}
	}
	switch rest {
	case authorizePath:
		t, prob := p.session(r)
		if prob == problemUnavailable {
			p.h.fail(w, prob)
			return
		}
		e.sess = t
	case resumePath:
		p.resume(w, r)
		return
	case tokenPath:
		if !p.clientAuthenticated(w, r) {
			return
		}
	}
	r2 := r.WithContext(context.WithValue(r.Context(), exchangeKey{}, e))
	r2.URL = new(url.URL)
	*r2.URL = *r.URL
	r2.URL.Path = rest
	r2.URL.RawPath = ""
	p.op.ServeHTTP(w, r2)
}

// clientAuthenticated refuses a token request of an unknown client or with a wrong secret
// (RFC 6749 §5.2 invalid_client, 401) before the op looks at the code: a request that cannot
// authenticate must not use a code up.
func (p *provider) clientAuthenticated(w http.ResponseWriter, r *http.Request) bool {
	id, secret, basic := r.BasicAuth()
	if basic {
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			basic, id = false, ""
		}
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	c := p.clients[id]
	switch {
	case c == nil:
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(secret))
	case c.public && secret == "":
		return true
	case !c.public && c.checkSecret(secret):
		return true
	}
	w.Header().Set("WWW-Authenticate", `Basic realm="`+p.issuer+`"`)
	writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed: unknown client, or a wrong or missing secret")
	return false
}

// session returns the browser's valid session (its verified, unrevoked refresh cookie), nil for
// none, or problemUnavailable when the store cannot say.
func (p *provider) session(r *http.Request) (*presentedToken, *problem) {
	raw, ok := session.Value(r, p.h.sessions.cookies.Refresh)
	if !ok {
		return nil, nil
	}
	t, prob := p.h.check(r.Context(), "authorize", raw, p.h.refreshTokens)
	if prob != nil {
		return nil, prob
	}
	return t, nil
}

// resume continues an authorization request after the login page: with a session now, the
// request is given its user and the op's callback issues the code; without one (the login was
// not done), back to the login page.
func (p *provider) resume(w http.ResponseWriter, r *http.Request) {
	id := r.Form.Get("id")
	t, prob := p.session(r)
	if prob == problemUnavailable {
		p.h.fail(w, prob)
		return
	}
	if t == nil {
		http.Redirect(w, r, p.loginURL(id), http.StatusSeeOther)
		return
	}
	if err := p.store.complete(r.Context(), id, t); err != nil {
		if errors.Is(err, errStoreDown) {
			p.h.fail(w, problemUnavailable)
			return
		}
		errorPage(w, http.StatusBadRequest, "This sign-in request is unknown or has expired. Go back to the application and sign in again.")
		return
	}
	// A page that opens the callback, rather than a redirect: the browser comes here from the
	// login form, and the login page's Content-Security-Policy (form-action 'self') would stop
	// the form's redirect chain at the app's address; a new navigation is not the form's.
	openPage(w, r, p.h.base+callbackPath+"?id="+url.QueryEscape(id))
}

// loginURL is the login page, which sends the browser on to resume the request id.
func (p *provider) loginURL(id string) string {
	return p.h.base + session.LoginPath + "?next=" + url.QueryEscape(p.resumeURL(id))
}

func (p *provider) resumeURL(id string) string {
	return p.h.base + resumePath + "?id=" + url.QueryEscape(id)
}

// bounce answers a cross-site navigation to authorize or end_session with a page that opens it again from this
// site (as session.Bounce does for other pages, which refuses paths under the base).
func (p *provider) bounce(w http.ResponseWriter, r *http.Request, rest string) {
	target := p.h.base + rest
	if q := r.URL.RawQuery; q != "" {
		target += "?" + url.Values(r.URL.Query()).Encode()
	}
	openPage(w, r, target)
}

// openPage answers with a page that at once opens target (a path of this site, its query
// encoded) with a meta refresh; no script.
func openPage(w http.ResponseWriter, r *http.Request, target string) {
	u := html.EscapeString(target)
	body := `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">` +
		`<meta http-equiv="refresh" content="0;url=` + u + `"><title>Signing in</title></head>` +
		`<body><p><a href="` + u + `">Continue to sign in</a></p></body></html>` + "\n"
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	hd.Set("Referrer-Policy", "same-origin")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(body))
	}
}

// errorPage is a plain page for a browser that cannot be sent back to the app (an unknown client
// or redirect URI: never redirect there).
func errorPage(w http.ResponseWriter, status int, msg string) {
	body := `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Sign-in failed</title></head><body><p>` +
		html.EscapeString(msg) + "</p></body></html>\n"
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// writeOAuthError writes an RFC 6749 §5.2 error body.
func writeOAuthError(w http.ResponseWriter, status int, code, desc string) {
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"error":"` + code + `","error_description":"` + desc + `"}`))
}

// CheckSecretHash checks that hash is a bcrypt hash (a client secret is never configured in
// plain text).
func CheckSecretHash(hash string) error {
	if _, err := bcrypt.Cost([]byte(hash)); err != nil {
		return errors.New("secret_hash must be a bcrypt hash (make one with `caddy hash-password`), never the secret itself")
	}
	return nil
}

// CheckProviderClient checks a client's settings that need nothing but themselves; the
// Caddyfile parser and New both use it.
func CheckProviderClient(c *ProviderClient) error {
	switch {
	case !validClientID(c.ID):
		return fmt.Errorf("client id %q must be 1 to 128 characters of A-Z, a-z, 0-9, '.', '_' and '-'", c.ID)
	case c.Public && c.SecretHash != "":
		return fmt.Errorf("client %s: a public client has no secret; remove secret_hash or public", c.ID)
	case !c.Public && c.SecretHash == "":
		return fmt.Errorf("client %s: needs secret_hash <bcrypt hash>, or public for an app that cannot keep a secret", c.ID)
	case len(c.RedirectURIs) == 0:
		return fmt.Errorf("client %s: needs at least one redirect_uri", c.ID)
	}
	if c.SecretHash != "" {
		if err := CheckSecretHash(c.SecretHash); err != nil {
			return fmt.Errorf("client %s: %w", c.ID, err)
		}
	}
	for _, u := range c.RedirectURIs {
		if err := checkRedirectURI(u, c.Public); err != nil {
			return fmt.Errorf("client %s: redirect_uri %w", c.ID, err)
		}
	}
	for _, u := range c.PostLogoutRedirectURIs {
		if err := checkRedirectURI(u, false); err != nil {
			return fmt.Errorf("client %s: post_logout_redirect_uri %w", c.ID, err)
		}
	}
	for _, s := range c.Scopes {
		if s == "" || strings.ContainsAny(s, " \t\"\\") {
			return fmt.Errorf("client %s: scope %q is not a scope token", c.ID, s)
		}
	}
	if c.Scopes != nil && !slices.Contains(c.Scopes, "openid") {
		return fmt.Errorf("client %s: scopes must include openid", c.ID)
	}
	return nil
}

// checkRedirectURI checks a registered redirect URI: absolute, no fragment (RFC 6749 §3.1.2);
// http only for a confidential client or to a loopback host.
func checkRedirectURI(raw string, public bool) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Scheme == "" || u.Host == "" || u.User != nil:
		return fmt.Errorf("%q must be an absolute URL such as https://app.example/callback", raw)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return fmt.Errorf("%q must not have a fragment", raw)
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && !public:
		return nil
	}
	return fmt.Errorf("%q must be https (a public client's too)", raw)
}

func validClientID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
