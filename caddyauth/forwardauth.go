package caddyauth

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/gatehouse-dev/gatehouse/internal/httpsyntax"
	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/token"
	"github.com/gatehouse-dev/gatehouse/internal/verify"
)

func init() {
	caddy.RegisterModule(ForwardAuth{})
}

// ForwardAuth is the http.handlers.jwt_forward_auth module: Gatehouse as the auth server of
// another proxy (nginx auth_request, Traefik forwardAuth, Caddy's forward_auth, HAProxy). It
// judges the original request that the proxy describes in forwarding headers with everything
// jwt_auth has (the same keys, claim rules, session cookies and silent renewal, login redirect)
// and answers instead of calling the next handler: 200 with identity headers when the request
// may go on, else the refusal, the login redirect or the cross-site bounce, which the proxy
// hands to the client.
//
// The forwarding headers are believed only from a proxy listed in the server's
// trusted_proxies: a request from any other address is refused (403), so no client chooses the
// URL that is judged, and an auth endpoint that is reachable directly grants nothing.
type ForwardAuth struct {
	// Every jwt_auth setting but cors and from_query (the proxy, not this handler, answers
	// preflights and sends the URL on to the app).
	JWTAuth

	// Which headers describe the original request: "x-forwarded" (the default; Traefik, Caddy's
	// forward_auth, HAProxy): X-Forwarded-Method, X-Forwarded-Proto, X-Forwarded-Host and
	// X-Forwarded-Uri; or "x-original" (nginx): X-Original-URL (absolute) and
	// X-Original-Method. The other set is ignored, so a client's copy of it, which a proxy passes
	// on, counts for nothing. The proxy must set (not append to) the headers of its set.
	ForwardedHeaders string `json:"forwarded_headers,omitempty"`
	// The answer header carrying the user id (see user_claims). Default Remote-User.
	UserHeader string `json:"user_header,omitempty"`
	// Rules for some forwarded hosts and paths, on top of require. When there are routes, a
	// request for a host that none of them names is refused (403), so an app added to the
	// proxy is not let through by rules written for others.
	Routes []ForwardRoute `json:"routes,omitempty"`

	userHeader string
}

// ForwardRoute is the rules of one forwarded host, or of a path prefix on it.
type ForwardRoute struct {
	// The forwarded host, compared case-insensitively; with a port, only requests for that
	// port match, without one any port does.
	Host string `json:"host"`
	// A path prefix in whole segments ("/admin" matches /admin and /admin/x, not /administer),
	// compared with the request path percent-decoded and cleaned of dot segments, as the app
	// behind the proxy will see it. Empty: every path of the host.
	Path string `json:"path,omitempty"`
	// Claim rules that must all hold for these requests, else 403. Every route that matches a
	// request applies.
	Require []Requirement `json:"require,omitempty"`
}

// Forwarded header sets.
const (
	forwardedX        = "x-forwarded"
	forwardedOriginal = "x-original"
)

// defaultUserHeader is the answer header of the user id, as Authelia and Caddy's forward_auth
// examples name it.
const defaultUserHeader = "Remote-User"

// Answer headers besides the identity: each Set-Cookie of the answer again under a numbered
// name, for proxies that can pass on only one value of a header (nginx's
// $upstream_http_set_cookie is the first Set-Cookie); and answerClient, the request header with
// which a proxy asks for the login redirect as a 302 it hands to the browser as is.
const (
	answerCookiePrefix = "Gatehouse-Set-Cookie-"
	answerClient       = "Gatehouse-Answer"
)

// Reasons of the forward-auth refusals.
const (
	reasonUntrustedProxy = "untrusted_proxy"
	reasonForwardRequest = "invalid_forward_request"
	reasonUnknownHost    = "unknown_host"
)

var (
	bodyUntrustedProxy = []byte(`{"detail":"This endpoint answers only the proxies in trusted_proxies.","code":"untrusted_proxy"}`)
	bodyForwardRequest = []byte(`{"detail":"The proxy did not describe the original request.","code":"invalid_request"}`)
	bodyUnknownHost    = []byte(`{"detail":"You do not have permission to perform this action.","code":"permission_denied"}`)
)

// maxForwardedURI bounds the forwarded request target, as a server bounds its request line.
const maxForwardedURI = 8192

// CaddyModule returns the Caddy module information.
func (ForwardAuth) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.jwt_forward_auth",
		New: func() caddy.Module { return new(ForwardAuth) },
	}
}

// Provision checks the forward-auth settings and provisions the jwt_auth inside.
func (f *ForwardAuth) Provision(ctx caddy.Context) error {
	if err := f.validateForward(); err != nil {
		return withSource(f.Source, err)
	}
	if f.ForwardedHeaders == "" {
		f.ForwardedHeaders = forwardedX
	}
	f.userHeader = defaultUserHeader
	if f.UserHeader != "" {
		f.userHeader = http.CanonicalHeaderKey(f.UserHeader)
	}
	return f.JWTAuth.Provision(ctx)
}

// Validate checks the configuration.
func (f *ForwardAuth) Validate() error {
	if err := f.validateForward(); err != nil {
		return withSource(f.Source, err)
	}
	return f.JWTAuth.Validate()
}

// validateForward checks what jwt_forward_auth adds to or takes from jwt_auth.
func (f *ForwardAuth) validateForward() error {
	if f.CORS != nil {
		return errors.New("jwt_forward_auth takes no cors: the proxy passes preflights to the app or answers them itself")
	}
	if f.SessionOIDC != nil {
		return errors.New("jwt_forward_auth takes no session oidc: its callback is a page of the proxied app; use session with a jwt_issuer")
	}
	for _, s := range f.Sources {
		if s.From == verify.FromQuery {
			return fmt.Errorf("jwt_forward_auth cannot read from_query %s: the proxy would send the URL with the token on to the app; send it in a header", s.Name)
		}
	}
	if err := checkForwardedHeaders(f.ForwardedHeaders); err != nil {
		return err
	}
	if err := f.checkUserHeader(); err != nil {
		return err
	}
	for _, rt := range f.Routes {
		if err := checkForwardRoute(rt); err != nil {
			return err
		}
	}
	return nil
}

// checkForwardedHeaders checks the forwarded_headers setting ("" for the default).
func checkForwardedHeaders(v string) error {
	switch v {
	case "", forwardedX, forwardedOriginal:
		return nil
	}
	return fmt.Errorf("forwarded_headers %q must be x-forwarded (Traefik, Caddy, HAProxy) or x-original (nginx)", v)
}

// checkUserHeader checks that user_header, if set, may carry the user id given the sources.
func (f *ForwardAuth) checkUserHeader() error {
	if f.UserHeader == "" {
		return nil
	}
	if err := checkForward(ForwardClaim{Claim: "user id", Header: f.UserHeader}, f.Sources); err != nil {
		return fmt.Errorf("user_header: %w", err)
	}
	return nil
}

// checkForwardRoute checks one route: a host name (with an optional port) and a path prefix.
func checkForwardRoute(rt ForwardRoute) error {
	u, err := url.Parse("http://" + rt.Host)
	if rt.Host == "" || err != nil || u.Host != rt.Host || u.Hostname() == "" {
		return fmt.Errorf("route %q: give a host name such as git.home.example, optionally with a port", rt.Host)
	}
	if rt.Path != "" && (rt.Path[0] != '/' || path.Clean(rt.Path) != rt.Path) {
		return fmt.Errorf("route %s%s: the path must start with / and have no dot segments, doubled or trailing slashes, e.g. %s/admin", rt.Host, rt.Path, rt.Host)
	}
	for _, rq := range rt.Require {
		if err := checkRequirement(rq); err != nil {
			return fmt.Errorf("route %s%s: %w", rt.Host, rt.Path, err)
		}
	}
	return nil
}

// ServeHTTP answers a proxy's auth sub-request; next is never called.
func (f *ForwardAuth) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	if trusted, _ := caddyhttp.GetVar(r.Context(), caddyhttp.TrustedProxyVarKey).(bool); !trusted {
		return f.refuseSession(w, r, http.StatusForbidden, reasonUntrustedProxy,
			"the request does not come from a proxy in trusted_proxies", bodyUntrustedProxy)
	}
	a := &forwardAnswer{f: f}
	o, err := f.original(r, a)
	if err != nil {
		return f.refuseSession(w, r, http.StatusBadRequest, reasonForwardRequest, err.Error(), bodyForwardRequest)
	}
	if len(f.Routes) > 0 {
		known := false
		a.rules, known = f.routeRules(o.Host, o.URL.Path)
		if !known {
			return f.refuseSession(w, o, http.StatusForbidden, reasonUnknownHost,
				"no route names the forwarded host", bodyUnknownHost)
		}
	}
	return f.JWTAuth.ServeHTTP(w, o, a)
}

// original is the request the proxy describes, to be judged in place of r: its method, host,
// target and scheme (as X-Forwarded-Proto, which serveSession reads from a trusted proxy), and
// r's headers (the client's, which the proxies pass on: the token, cookies, Origin, Accept,
// Sec-Fetch-*). It shares r's header map and context; it has no body. It lives in a (a.req),
// which is allocated once per sub-request.
func (f *ForwardAuth) original(r *http.Request, a *forwardAnswer) (*http.Request, error) {
	var method, scheme, host, uri string
	var err error
	if f.ForwardedHeaders == forwardedOriginal {
		if method, err = oneHeader(r, "X-Original-Method"); err != nil {
			return nil, err
		}
		raw, err := oneHeader(r, "X-Original-Url")
		if err != nil {
			return nil, err
		}
		u, err := url.Parse(raw)
		if err != nil || !u.IsAbs() || u.Host == "" || u.User != nil || u.Fragment != "" {
			return nil, errors.New("X-Original-URL must be an absolute URL, as nginx's $scheme://$http_host$request_uri")
		}
		// The target as nginx sent it ($request_uri, not re-encoded): what follows the host.
		scheme, host = strings.ToLower(u.Scheme), u.Host
		rest, ok := strings.CutPrefix(strings.ToLower(raw), scheme+"://")
		if ok {
			rest, ok = strings.CutPrefix(raw[len(raw)-len(rest):], u.Host)
		}
		if !ok || u.Opaque != "" || !strings.HasPrefix(rest, "/") {
			return nil, errors.New("X-Original-URL must have a path after the host")
		}
		uri = rest
	} else {
		if method, err = oneHeader(r, "X-Forwarded-Method"); err != nil {
			return nil, err
		}
		if host, err = oneHeader(r, "X-Forwarded-Host"); err != nil {
			return nil, err
		}
		if uri, err = oneHeader(r, "X-Forwarded-Uri"); err != nil {
			return nil, err
		}
		scheme = "http"
		if vs := r.Header["X-Forwarded-Proto"]; len(vs) > 1 {
			return nil, errors.New("X-Forwarded-Proto is sent more than once")
		} else if len(vs) == 1 {
			scheme = strings.ToLower(vs[0])
		}
	}
	if scheme != "http" && scheme != "https" {
		return nil, fmt.Errorf("the forwarded scheme %q is not http or https", scheme)
	}
	if !httpsyntax.IsToken(method) {
		return nil, errors.New("the forwarded method is not a method name")
	}
	if !hostLike(host) {
		return nil, errors.New("the forwarded host is not a host name")
	}
	if len(uri) > maxForwardedURI || !strings.HasPrefix(uri, "/") || !verify.HeaderSafe(uri) {
		return nil, errors.New("the forwarded URI must be a path, such as /app/?q=1")
	}
	if err := parseTarget(uri, &a.url); err != nil {
		return nil, errors.New("the forwarded URI is not a valid request target")
	}
	// The scheme the session code reads (markForwardedHTTPS): the proxy's word, from whichever
	// header set is in use.
	a.proto[0] = scheme
	r.Header["X-Forwarded-Proto"] = a.proto[:]

	o := &a.req
	*o = *r
	o.Method = method
	o.Host = host
	o.URL = &a.url
	o.RequestURI = uri
	o.TLS = nil // the scheme of the original request is the forwarded one
	o.Body, o.ContentLength, o.TransferEncoding = http.NoBody, 0, nil
	return o, nil
}

// hostLike reports whether host can be a Host header value: a name or address with an optional
// port, and nothing that would end the authority of a URL (no path, query, user or space). It is
// cheaper than url.Parse on every request; a host that passes but names nothing matches no route.
func hostLike(host string) bool {
	if host == "" || host[0] == ':' {
		return false
	}
	for i := 0; i < len(host); i++ {
		if c := host[i]; c <= ' ' || c >= 0x7f || strings.IndexByte("/?#@\\\"<>{}|^`,;", c) >= 0 {
			return false
		}
	}
	return true
}

// oneHeader returns the value of the header name (in canonical form), which r must send exactly
// once: a second copy would be one the client added and a proxy appended to.
func oneHeader(r *http.Request, name string) (string, error) {
	vs := r.Header[name]
	switch {
	case len(vs) == 0 || vs[0] == "":
		return "", fmt.Errorf("%s is missing; see the proxy configurations in docs/forward-auth.md", name)
	case len(vs) > 1:
		return "", fmt.Errorf("%s is sent more than once", name)
	}
	return vs[0], nil
}

// routeRules returns the rules of the routes that match host and the path (percent-decoded
// already) and whether any route names the host.
func (f *ForwardAuth) routeRules(host, p string) ([]Requirement, bool) {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	p = path.Clean("/" + p)
	var rules []Requirement
	known := false
	for i := range f.Routes {
		rt := &f.Routes[i]
		rh := strings.ToLower(rt.Host)
		if rh != host && rh != name {
			continue
		}
		known = true
		if rt.Path == "" || rt.Path == "/" || p == rt.Path || strings.HasPrefix(p, rt.Path+"/") {
			rules = append(rules, rt.Require...)
		}
	}
	return rules, known
}

// forwardAnswer is the next handler jwt_auth is given: it answers the proxy where jwt_auth
// would pass the request on (see admit and withoutSession, which call its methods). It is
// allocated once per sub-request and holds what the sub-request needs besides: the original
// request and its URL, and room for the header values it sets. One allocation instead of one
// each is what keeps a cached token's sub-request close to the cost of a plain 200 (bench/).
type forwardAnswer struct {
	f     *ForwardAuth
	rules []Requirement // of the routes that match

	req http.Request // the original request (original)
	url url.URL      // its target

	// Header values, each a slice of its own with room for one (an append copies): the
	// forwarded scheme, the user id, the answer's length, the forwarded claims.
	proto, user, length [1]string
	values              [4]string
}

// claimValues returns room for n forwarded claim values (see admit).
func (a *forwardAnswer) claimValues(n int) []string {
	if n <= len(a.values) {
		return a.values[:n]
	}
	return make([]string, n)
}

// answerer is what admit and withoutSession look for in next: a handler that answers an
// admitted request or a browser without a session itself.
type answerer interface {
	admitted(w http.ResponseWriter, r *http.Request, claims *token.Claims) error
	login(w http.ResponseWriter, r *http.Request, bounce bool) error
	claimValues(n int) []string
}

// ServeHTTP answers a request let through anonymously (optional): 200 without identity, unless
// a route has rules, which no anonymous request meets.
func (a *forwardAnswer) ServeHTTP(w http.ResponseWriter, r *http.Request) error {
	if len(a.rules) > 0 {
		return a.f.refuse(w, r, verify.ErrMissing)
	}
	return a.ok(w, r)
}

// admitted answers a request with verified claims: the route rules, then 200 with the user id
// and the forwarded claims as answer headers.
func (a *forwardAnswer) admitted(w http.ResponseWriter, r *http.Request, claims *token.Claims) error {
	f := a.f
	exposeCookies(w.Header())
	for i := range a.rules {
		rq := verify.Requirement{Claim: a.rules[i].Claim, Values: a.rules[i].Values}
		if !rq.Met(claims) {
			return f.refuse(w, r, &verify.Error{
				Status:      http.StatusForbidden,
				Reason:      verify.ReasonScope,
				Description: "claim " + rq.Claim + " does not have a value this route requires",
			})
		}
	}
	h := w.Header()
	if id := userID(claims, f.UserClaims); id != "" {
		a.user[0] = id
		h[f.userHeader] = a.user[:]
	}
	// admit has put the forwarded claims on the request, after deleting the client's copies.
	for _, name := range f.forwardHeaders {
		if v := r.Header[name]; len(v) > 0 {
			h[name] = v
		}
	}
	return a.ok(w, r)
}

// ok writes the 200 answer. With session, it also says which cookies the app may see: the
// client's, but for the refresh cookie, which serveSession took off the request (a proxy sets
// the upstream's Cookie header from it: the refresh token is for the issuer alone).
func (a *forwardAnswer) ok(w http.ResponseWriter, r *http.Request) error {
	h := w.Header()
	if a.f.Session != "" {
		if c := r.Header["Cookie"]; len(c) > 0 {
			h["Cookie"] = []string{strings.Join(c, "; ")}
		}
	}
	a.length[0] = "0"
	h["Content-Length"] = a.length[:]
	w.WriteHeader(http.StatusOK)
	return nil
}

// login answers a browser without a session: a redirect to the login page, or the cross-site
// bounce (bounce). The redirect is 302, but for nginx (x-original), whose auth_request passes
// only 2xx, 401 and 403: 401 with the Location, unless the request carries Gatehouse-Answer:
// client (nginx's error_page location asks again with it and passes the 302 on). The bounce is
// session.Bounce's page with status 401: never a 2xx, which would let the request through.
func (a *forwardAnswer) login(w http.ResponseWriter, r *http.Request, bounce bool) error {
	f := a.f
	h := w.Header()
	exposeCookies(h)
	h.Set("WWW-Authenticate", f.challenges.Missing)
	if bounce {
		session.Bounce(statusWriter{ResponseWriter: w, status: http.StatusUnauthorized}, r, f.Session)
		return nil
	}
	status := http.StatusFound
	if f.ForwardedHeaders == forwardedOriginal && r.Header.Get(answerClient) != "client" {
		status = http.StatusUnauthorized
	}
	h.Set("Cache-Control", "no-store")
	h.Set("Location", f.loginURL(r)) // an absolute next only to an allowed host
	h.Set("Content-Length", "0")
	w.WriteHeader(status)
	return nil
}

// exposeCookies copies each Set-Cookie of h under a numbered name (Gatehouse-Set-Cookie-1, -2),
// which a proxy that passes on one value per header name can hand to the browser.
func exposeCookies(h http.Header) {
	for i, c := range h["Set-Cookie"] {
		h[answerCookiePrefix+strconv.Itoa(i+1)] = []string{c}
	}
}

// statusWriter writes status in place of any other.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s statusWriter) WriteHeader(int) { s.ResponseWriter.WriteHeader(s.status) }

// Interface guards
var (
	_ caddy.Provisioner           = (*ForwardAuth)(nil)
	_ caddy.Validator             = (*ForwardAuth)(nil)
	_ caddy.CleanerUpper          = (*ForwardAuth)(nil)
	_ caddyhttp.MiddlewareHandler = (*ForwardAuth)(nil)
	_ caddyhttp.Handler           = (*forwardAnswer)(nil)
	_ answerer                    = (*forwardAnswer)(nil)
)
