package caddyauth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
)

// provisionForward provisions and validates f as Caddy would, and cleans it up after the test.
func provisionForward(t testing.TB, f *ForwardAuth) *ForwardAuth {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := f.Provision(ctx); err != nil {
		_ = f.Cleanup()
		t.Fatalf("provision: %v", err)
	}
	if err := f.Validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
	t.Cleanup(func() { _ = f.Cleanup() })
	return f
}

// serveForward runs r through f as Caddy's server would, with r coming from a proxy in
// trusted_proxies when trusted.
func serveForward(f *ForwardAuth, r *http.Request, trusted bool) served {
	s := served{rec: httptest.NewRecorder(), repl: caddy.NewReplacer()}
	r = caddyhttp.PrepareRequest(r, s.repl, s.rec, new(caddyhttp.Server))
	caddyhttp.SetVar(r.Context(), caddyhttp.TrustedProxyVarKey, trusted)
	next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error {
		s.nextCalled = true
		return nil
	})
	s.err = f.ServeHTTP(s.rec, r, next)
	return s
}

// subRequest is the auth sub-request of Traefik or Caddy's forward_auth for the original
// request method http://host<uri>, with headers ("Name: value") of the client.
func subRequest(method, host, uri string, headers ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/auth", nil)
	r.Host = "auth.internal:9000"
	r.Header.Set("X-Forwarded-Method", method)
	r.Header.Set("X-Forwarded-Proto", "http")
	r.Header.Set("X-Forwarded-Host", host)
	r.Header.Set("X-Forwarded-Uri", uri)
	r.Header.Set("X-Forwarded-For", "192.0.2.10")
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ": ")
		r.Header.Add(name, value)
	}
	return r
}

// nginxSubRequest is nginx's auth_request sub-request for method url.
func nginxSubRequest(method, url string, headers ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/auth", nil)
	r.Header.Set("X-Original-Method", method)
	r.Header.Set("X-Original-URL", url)
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ": ")
		r.Header.Add(name, value)
	}
	return r
}

func expired(extra string) string {
	return signHS256(testSecret, `{"alg":"HS256","typ":"JWT"}`,
		`{"exp":`+strconv.FormatInt(time.Now().Add(-time.Hour).Unix(), 10)+`,`+extra+`}`)
}

func TestForwardAuthBearer(t *testing.T) {
	f := provisionForward(t, &ForwardAuth{JWTAuth: JWTAuth{
		Secret:        testSecret,
		ForwardClaims: []ForwardClaim{{Claim: "email", Header: "X-Email"}},
		Require:       []Requirement{{Claim: "team", Values: []string{"blue"}}},
	}})
	good := hsToken(`"sub":"alice","email":"a@example.com","team":"blue"`)

	got := serveForward(f, subRequest("POST", "app.example", "/notes", "Authorization: Bearer "+good,
		"Remote-User: mallory", "X-Email: mallory@example.com"), true)
	h := got.rec.Header()
	if got.nextCalled || got.rec.Code != http.StatusOK || h.Get("Remote-User") != "alice" || h.Get("X-Email") != "a@example.com" {
		t.Fatalf("valid token: next %v, %d, Remote-User %q, X-Email %q", got.nextCalled, got.rec.Code, h.Get("Remote-User"), h.Get("X-Email"))
	}
	if len(h.Values("Remote-User")) != 1 || len(h.Values("X-Email")) != 1 {
		t.Fatalf("identity headers answered more than once: %q", h)
	}
	if got.placeholder("http.auth.user.id") != "alice" {
		t.Errorf("{http.auth.user.id} = %q", got.placeholder("http.auth.user.id"))
	}

	for _, c := range []struct {
		name   string
		header string
		status int
	}{
		{"missing", "", http.StatusUnauthorized},
		{"invalid", "Authorization: Bearer " + good[:len(good)-3] + "AAA", http.StatusUnauthorized},
		{"expired", "Authorization: Bearer " + expired(`"sub":"alice","team":"blue"`), http.StatusUnauthorized},
		{"claim rule", "Authorization: Bearer " + hsToken(`"sub":"bob","team":"red"`), http.StatusForbidden},
	} {
		var hs []string
		if c.header != "" {
			hs = append(hs, c.header)
		}
		got := serveForward(f, subRequest("GET", "app.example", "/", hs...), true)
		if got.nextCalled || got.rec.Code != c.status || got.rec.Header().Get("Remote-User") != "" {
			t.Errorf("%s: %d Remote-User %q, want %d and none", c.name, got.rec.Code, got.rec.Header().Get("Remote-User"), c.status)
		}
		if got.rec.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("%s: no WWW-Authenticate", c.name)
		}
	}
}

func TestForwardAuthUntrustedProxy(t *testing.T) {
	f := provisionForward(t, &ForwardAuth{JWTAuth: JWTAuth{Secret: testSecret}})
	// A valid token, from an address that is not a trusted proxy: refused, whatever it says.
	got := serveForward(f, subRequest("GET", "app.example", "/", "Authorization: Bearer "+hsToken(`"sub":"alice"`)), false)
	if got.rec.Code != http.StatusForbidden || got.rec.Header().Get("Remote-User") != "" || !strings.Contains(got.rec.Body.String(), "untrusted_proxy") {
		t.Fatalf("untrusted sender: %d %q", got.rec.Code, got.rec.Body)
	}
}

func TestForwardAuthForwardingHeaders(t *testing.T) {
	tok := "Authorization: Bearer " + hsToken(`"sub":"alice","roles":["git"]`)
	routes := []ForwardRoute{
		{Host: "git.example", Require: []Requirement{{Claim: "roles", Values: []string{"git"}}}},
		{Host: "wiki.example"},
	}
	x := provisionForward(t, &ForwardAuth{JWTAuth: JWTAuth{Secret: testSecret}, Routes: routes})
	n := provisionForward(t, &ForwardAuth{JWTAuth: JWTAuth{Secret: testSecret}, Routes: routes, ForwardedHeaders: "x-original"})

	bad := []struct {
		name string
		r    *http.Request
	}{
		{"no X-Forwarded-Uri", func() *http.Request {
			r := subRequest("GET", "git.example", "/", tok)
			r.Header.Del("X-Forwarded-Uri")
			return r
		}()},
		{"two X-Forwarded-Host", subRequest("GET", "git.example", "/", tok, "X-Forwarded-Host: wiki.example")},
		{"a URI that is no path", subRequest("GET", "git.example", "http://evil.example/", tok)},
		{"a host with a path", subRequest("GET", "git.example/x", "/", tok)},
		{"a method with a space", subRequest("GE T", "git.example", "/", tok)},
		{"ftp", subRequest("GET", "git.example", "/", tok, "X-Forwarded-Proto: ftp")},
	}
	for _, c := range bad {
		if got := serveForward(x, c.r, true); got.rec.Code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", c.name, got.rec.Code)
		}
	}
	if got := serveForward(n, nginxSubRequest("GET", "/relative", tok), true); got.rec.Code != http.StatusBadRequest {
		t.Errorf("nginx, relative X-Original-URL: %d, want 400", got.rec.Code)
	}

	// Each handler reads its own set and ignores the other, which a client could have sent
	// through the proxy: x-forwarded judges git.example (allowed), not the X-Original-URL of
	// an unknown host; x-original judges the unknown host, not X-Forwarded-Host.
	if got := serveForward(x, subRequest("GET", "git.example", "/", tok, "X-Original-URL: http://other.example/", "X-Original-Method: GET"), true); got.rec.Code != http.StatusOK {
		t.Errorf("x-forwarded with a client's X-Original-URL: %d, want 200", got.rec.Code)
	}
	r := nginxSubRequest("GET", "http://other.example/", tok, "X-Forwarded-Host: git.example", "X-Forwarded-Uri: /", "X-Forwarded-Method: GET")
	if got := serveForward(n, r, true); got.rec.Code != http.StatusForbidden || !strings.Contains(got.rec.Body.String(), "permission_denied") {
		t.Errorf("x-original with a client's X-Forwarded-*: %d %s, want 403 (unknown host)", got.rec.Code, got.rec.Body)
	}
	if got := serveForward(n, nginxSubRequest("GET", "http://GIT.example:8443/a?b=1", tok), true); got.rec.Code != http.StatusOK {
		t.Errorf("nginx, X-Original-URL of a route host with a port: %d %s", got.rec.Code, got.rec.Body)
	}
}

func TestForwardAuthRoutes(t *testing.T) {
	f := provisionForward(t, &ForwardAuth{JWTAuth: JWTAuth{Secret: testSecret}, Routes: []ForwardRoute{
		{Host: "git.example"},
		{Host: "git.example", Path: "/admin", Require: []Requirement{{Claim: "roles", Values: []string{"admin"}}}},
		{Host: "wiki.example:8080", Require: []Requirement{{Claim: "roles", Values: []string{"wiki"}}}},
	}})
	dev := "Authorization: Bearer " + hsToken(`"sub":"dev","roles":["git","wiki"]`)
	admin := "Authorization: Bearer " + hsToken(`"sub":"root","roles":["admin"]`)
	for _, c := range []struct {
		host, uri, tok string
		status         int
	}{
		{"git.example", "/repo", dev, 200},
		{"git.example", "/administer", dev, 200}, // whole segments only
		{"git.example", "/admin", dev, 403},
		{"git.example", "/admin/users", dev, 403},
		{"git.example", "/repo/../admin/users", dev, 403}, // as the app will see it
		{"git.example", "/%61dmin/users", dev, 403},
		{"git.example", "//admin", dev, 403},
		{"GIT.example.", "/admin", dev, 403},
		{"git.example", "/admin", admin, 200},
		{"wiki.example:8080", "/", dev, 200},
		{"wiki.example:8080", "/", admin, 403},
		{"wiki.example", "/", dev, 403}, // the route names another port: an unknown host
		{"other.example", "/", dev, 403},
	} {
		got := serveForward(f, subRequest("GET", c.host, c.uri, c.tok), true)
		if got.rec.Code != c.status {
			t.Errorf("%s%s: %d %s, want %d", c.host, c.uri, got.rec.Code, got.rec.Body, c.status)
		}
	}
	// An unknown host is refused before the token is looked at, even without one.
	if got := serveForward(f, subRequest("GET", "other.example", "/"), true); got.rec.Code != http.StatusForbidden {
		t.Errorf("unknown host without a token: %d", got.rec.Code)
	}
}

func TestForwardAuthSession(t *testing.T) {
	s := newSessionSite(t, "/fa/token")
	f := provisionForward(t, &ForwardAuth{JWTAuth: JWTAuth{
		Session: "/fa/token", ForwardClaims: []ForwardClaim{{Claim: "user_id", Header: "X-User-Id"}},
	}})
	n := provisionForward(t, &ForwardAuth{JWTAuth: JWTAuth{Session: "/fa/token"}, ForwardedHeaders: "x-original"})
	accept := "Accept: text/html,*/*;q=0.8"

	// A browser without a session: sent to the login page of the app's host, with the page it
	// asked for (not the sub-request's /auth) as next.
	got := serveForward(f, subRequest("GET", "app.example", "/notes/?q=1", accept), true)
	if got.rec.Code != http.StatusFound || got.rec.Header().Get("Location") != "/fa/token/login?next=%2Fnotes%2F%3Fq%3D1" {
		t.Fatalf("browser without a session: %d %q", got.rec.Code, got.rec.Header().Get("Location"))
	}
	// nginx: 401 with the Location for auth_request, 302 when its error_page location asks again.
	got = serveForward(n, nginxSubRequest("GET", "http://app.example/notes/", accept), true)
	if got.rec.Code != http.StatusUnauthorized || got.rec.Header().Get("Location") != "/fa/token/login?next=%2Fnotes%2F" {
		t.Fatalf("nginx, browser without a session: %d %q", got.rec.Code, got.rec.Header().Get("Location"))
	}
	got = serveForward(n, nginxSubRequest("GET", "http://app.example/notes/", accept, "Gatehouse-Answer: client"), true)
	if got.rec.Code != http.StatusFound || got.rec.Header().Get("Location") != "/fa/token/login?next=%2Fnotes%2F" {
		t.Fatalf("nginx error_page, browser without a session: %d %q", got.rec.Code, got.rec.Header().Get("Location"))
	}
	// An API client: 401, no redirect.
	if got = serveForward(f, subRequest("GET", "app.example", "/api/"), true); got.rec.Code != http.StatusUnauthorized || got.rec.Header().Get("Location") != "" {
		t.Fatalf("API client without a token: %d %q", got.rec.Code, got.rec.Header().Get("Location"))
	}
	// A link from another site: the bounce page, as a 401 (a 2xx would let the request through).
	got = serveForward(f, subRequest("GET", "app.example", "/notes/", accept, "Sec-Fetch-Site: cross-site", "Sec-Fetch-Mode: navigate"), true)
	if got.rec.Code != http.StatusUnauthorized || !strings.Contains(got.rec.Body.String(), `url=/notes/`) {
		t.Fatalf("cross-site link: %d %s", got.rec.Code, got.rec.Body)
	}

	// The refresh cookie renews the session in the answer: the cookies as Set-Cookie and again
	// numbered, the identity, and the Cookie header the app may see (without the refresh cookie).
	_, refresh := s.tokens(t)
	got = serveForward(f, subRequest("GET", "app.example", "/notes/", accept,
		"Cookie: theme=dark; gatehouse_refresh="+refresh), true)
	h := got.rec.Header()
	sc := h.Values("Set-Cookie")
	if got.rec.Code != http.StatusOK || h.Get("X-User-Id") != "7" || len(sc) != 2 ||
		h.Get("Gatehouse-Set-Cookie-1") != sc[0] || h.Get("Gatehouse-Set-Cookie-2") != sc[1] ||
		!strings.HasPrefix(sc[0], "gatehouse_access=") || !strings.HasPrefix(sc[1], "gatehouse_refresh=") {
		t.Fatalf("renewal: %d X-User-Id %q Set-Cookie %q headers %q", got.rec.Code, h.Get("X-User-Id"), sc, h)
	}
	if c := h.Get("Cookie"); c != "theme=dark" {
		t.Fatalf("Cookie for the app %q, want theme=dark", c)
	}
	access := strings.TrimPrefix(strings.SplitN(sc[0], ";", 2)[0], "gatehouse_access=")
	newRefresh := strings.TrimPrefix(strings.SplitN(sc[1], ";", 2)[0], "gatehouse_refresh=")

	// CSRF: a state-changing original request carried by the cookie from another site's page is
	// refused, judged by the original method and Origin; from the app's own page it passes.
	got = serveForward(f, subRequest("POST", "app.example", "/notes/", "Cookie: gatehouse_access="+access, "Origin: http://evil.example"), true)
	if got.rec.Code != http.StatusForbidden || got.rec.Header().Get("X-User-Id") != "" {
		t.Fatalf("cross-site POST: %d", got.rec.Code)
	}
	got = serveForward(f, subRequest("POST", "app.example", "/notes/", "Cookie: gatehouse_access="+access, "Origin: http://app.example"), true)
	if got.rec.Code != http.StatusOK || got.rec.Header().Get("X-User-Id") != "7" {
		t.Fatalf("same-site POST: %d %s", got.rec.Code, got.rec.Body)
	}
	// The origin is the forwarded one, https included: http://app.example is not https://app.example.
	got = serveForward(f, subRequest("POST", "app.example", "/notes/", "Cookie: gatehouse_access="+access, "Origin: https://app.example"), true)
	if got.rec.Code != http.StatusForbidden {
		t.Fatalf("POST from the https origin to the http site: %d", got.rec.Code)
	}
	r := subRequest("POST", "app.example", "/notes/", "Cookie: gatehouse_access="+access, "Origin: https://app.example")
	r.Header.Set("X-Forwarded-Proto", "https")
	if got = serveForward(f, r, true); got.rec.Code != http.StatusOK {
		t.Fatalf("POST from the https origin to the https site: %d", got.rec.Code)
	}
	// nginx: the scheme is X-Original-URL's, whatever X-Forwarded-Proto the client sent.
	got = serveForward(n, nginxSubRequest("POST", "http://app.example/notes/", "Cookie: gatehouse_access="+access,
		"Origin: https://app.example", "X-Forwarded-Proto: https"), true)
	if got.rec.Code != http.StatusForbidden {
		t.Fatalf("nginx, a client's X-Forwarded-Proto: %d", got.rec.Code)
	}
	_ = newRefresh
}

func TestForwardAuthConfig(t *testing.T) {
	for _, c := range []struct {
		name string
		f    ForwardAuth
	}{
		{"cors", ForwardAuth{JWTAuth: JWTAuth{Secret: testSecret, CORS: &CORS{Passthrough: true}}}},
		{"from_query", ForwardAuth{JWTAuth: JWTAuth{Secret: testSecret, Sources: []TokenSource{{From: "query", Name: "t"}}}}},
		{"forwarded_headers", ForwardAuth{JWTAuth: JWTAuth{Secret: testSecret}, ForwardedHeaders: "nginx"}},
		{"route host", ForwardAuth{JWTAuth: JWTAuth{Secret: testSecret}, Routes: []ForwardRoute{{Host: "a/b"}}}},
		{"route path", ForwardAuth{JWTAuth: JWTAuth{Secret: testSecret}, Routes: []ForwardRoute{{Host: "a", Path: "/x/../y"}}}},
		{"user_header", ForwardAuth{JWTAuth: JWTAuth{Secret: testSecret}, UserHeader: "Cookie"}},
	} {
		if err := c.f.Validate(); err == nil {
			t.Errorf("%s: accepted", c.name)
		}
	}

	d := caddyfile.NewTestDispenser(`jwt_forward_auth {
		secret ` + testSecret + `
		forward_claim email X-Email
		forwarded_headers x-original
		user_header X-User
		route git.example/admin {
			require roles admin
		}
		route wiki.example
		require team blue
	}`)
	var f ForwardAuth
	if err := f.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	if f.Secret != testSecret || len(f.ForwardClaims) != 1 || f.ForwardedHeaders != "x-original" || f.UserHeader != "X-User" ||
		len(f.Require) != 1 || len(f.Routes) != 2 || f.Routes[0].Host != "git.example" || f.Routes[0].Path != "/admin" ||
		len(f.Routes[0].Require) != 1 || f.Routes[1].Host != "wiki.example" || f.Routes[1].Path != "" {
		t.Fatalf("parsed %+v", f)
	}
	for _, bad := range []string{
		"jwt_forward_auth {\n cors passthrough\n}",
		"jwt_forward_auth {\n from_query t\n}",
		"jwt_forward_auth {\n route git.example {\n allow x\n }\n}",
		"jwt_forward_auth {\n route\n}",
		"jwt_forward_auth {\n bogus\n}",
		"jwt_forward_auth {\n forwarded_headers nginx\n}",
	} {
		var f ForwardAuth
		if err := f.UnmarshalCaddyfile(caddyfile.NewTestDispenser(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// BenchmarkForwardAuth_HS256 is a forward-auth sub-request with a token the verifier has
// cached (every iteration after the first), answered 200 with the identity headers.
func BenchmarkForwardAuth_HS256(b *testing.B) {
	tok := hsToken(`"token_type":"access","iat":1795886825,"jti":"ade5487163b04c179848ad8b20abd158","user_id":1`)
	f := provisionForward(b, &ForwardAuth{JWTAuth: JWTAuth{Secret: testSecret,
		ForwardClaims: []ForwardClaim{{Claim: "user_id", Header: "X-User-Id"}}}})
	f.logger = zap.NewNop()
	benchForward(b, f, subRequest("GET", "app.example", "/notes/?page=2", "Authorization: Bearer "+tok,
		"Accept: application/json", "User-Agent: bench"))
}

// BenchmarkForwardAuth_Plain200 is the same request answered 200 by a handler that does nothing
// else, as a plain Caddy `respond 200` does: the baseline.
func BenchmarkForwardAuth_Plain200(b *testing.B) {
	plain := caddyhttp.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) error {
		w.Header()["Content-Length"] = []string{"0"}
		w.WriteHeader(http.StatusOK)
		return nil
	})
	benchForward(b, plain, subRequest("GET", "app.example", "/notes/?page=2", "Authorization: Bearer x",
		"Accept: application/json", "User-Agent: bench"))
}

// benchForward serves r with h in a loop, as benchServe does jwt_auth (see loopForward).
func benchForward(b *testing.B, h any, r *http.Request) {
	serveOne := loopForward(b, h, r)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		serveOne()
	}
}

// loopForward returns a function that serves r with h as Caddy would: the request prepared
// once, a fresh replacer each time (as each request gets in Caddy), and a response writer that
// keeps nothing but the header map, emptied each time (a recorder would copy the headers). It
// serves r once and fails unless that is answered 200.
func loopForward(tb testing.TB, h any, r *http.Request) func() {
	tb.Helper()
	w := &headerWriter{h: make(http.Header)}
	r = caddyhttp.PrepareRequest(r, caddy.NewReplacer(), w, new(caddyhttp.Server))
	caddyhttp.SetVar(r.Context(), caddyhttp.TrustedProxyVarKey, true)
	serveOne := func() {
		clear(w.h)
		req := withReplacer(r)
		switch h := h.(type) {
		case *ForwardAuth:
			_ = h.ServeHTTP(w, req, nil)
		case caddyhttp.Handler:
			_ = h.ServeHTTP(w, req)
		}
	}
	if serveOne(); w.status != http.StatusOK {
		tb.Fatalf("status %d", w.status)
	}
	return serveOne
}

// TestForwardAuthAllocations holds what keeps a cached token's sub-request close to a plain 200
// (bench/README.md, "forward auth"): at most two allocations more than the plain answer (the
// placeholders' lookup function and the answer with the original request in it), however many
// identity headers the answer carries.
func TestForwardAuthAllocations(t *testing.T) {
	tok := hsToken(`"token_type":"access","iat":1795886825,"jti":"ade5487163b04c179848ad8b20abd158","user_id":1,"email":"a@example.com"`)
	f := provisionForward(t, &ForwardAuth{JWTAuth: JWTAuth{Secret: testSecret,
		ForwardClaims: []ForwardClaim{{Claim: "user_id", Header: "X-User-Id"}, {Claim: "email", Header: "X-Email"}}}})
	f.logger = zap.NewNop()
	plain := caddyhttp.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) error {
		w.Header()["Content-Length"] = []string{"0"}
		w.WriteHeader(http.StatusOK)
		return nil
	})
	sub := func(auth string) *http.Request {
		return subRequest("GET", "app.example", "/notes/?page=2", auth, "Accept: application/json")
	}
	base := testing.AllocsPerRun(200, loopForward(t, plain, sub("Authorization: Bearer x")))
	got := testing.AllocsPerRun(200, loopForward(t, f, sub("Authorization: Bearer "+tok)))
	if got > base+2 {
		t.Fatalf("a cached sub-request allocates %v times, a plain 200 %v", got, base)
	}
}

// headerWriter is a ResponseWriter that keeps the header map and the status only.
type headerWriter struct {
	h      http.Header
	status int
}

func (w *headerWriter) Header() http.Header         { return w.h }
func (w *headerWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *headerWriter) WriteHeader(status int)      { w.status = status }
