package caddyauth

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/gatehouse-dev/gatehouse/internal/kv"
	"github.com/gatehouse-dev/gatehouse/internal/session"
)

// sessionSite is a jwt_issuer with session on at base, and a jwt_auth using its sessions.
type sessionSite struct {
	base    string
	issuer  *JWTIssuer
	auth    *JWTAuth
	storage *kv.Failing
}

func newSessionSite(t *testing.T, base string) *sessionSite {
	t.Helper()
	s := &sessionSite{base: base, storage: kv.NewFailing(kv.NewMemory())}
	s.issuer = provisionIssuer(t, &JWTIssuer{
		BasePath: base,
		IssuerConfig: IssuerConfig{
			Users:         testUsers(),
			SigningKey:    &SigningKey{Source: keySecret, Secret: testSecret},
			RotateRefresh: true,
			Session:       &IssuerSession{},
		},
	}, s.storage)
	s.auth = provision(t, &JWTAuth{
		Session:       base,
		ForwardClaims: []ForwardClaim{{Claim: "user_id", Header: "X-User-Id"}},
	})
	return s
}

// tokens logs alice in through the JSON endpoint: the same tokens the form puts in cookies.
func (s *sessionSite) tokens(t *testing.T) (access, refresh string) {
	return pair(t, login(t, s.issuer, s.base, "alice", "alice-pw", ""))
}

// request is a request to the site from a browser on it: Host and, for unsafe methods, Origin.
func request(method, target, body string, cookies ...string) *http.Request {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.Host = "localhost:8080"
	if method != http.MethodGet && method != http.MethodHead {
		r.Header.Set("Origin", "http://localhost:8080")
	}
	for i := 0; i+1 < len(cookies); i += 2 {
		r.AddCookie(&http.Cookie{Name: cookies[i], Value: cookies[i+1]})
	}
	return r
}

func html(r *http.Request) *http.Request {
	r.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	return r
}

func TestSessionWithoutSession(t *testing.T) {
	s := newSessionSite(t, "/s1/token")
	got := serve(s.auth, html(request(http.MethodGet, "/private/page?x=1", "")), nil)
	if got.nextCalled || got.rec.Code != http.StatusFound || got.rec.Header().Get("Location") != "/s1/token/login?next=%2Fprivate%2Fpage%3Fx%3D1" {
		t.Fatalf("browser without a session: %d Location %q", got.rec.Code, got.rec.Header().Get("Location"))
	}
	if cc := got.rec.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("redirect Cache-Control %q", cc)
	}
	// From a link on another site: one bounce through a same-site reload, which brings the
	// Strict refresh cookie along, rather than the login page.
	r := html(request(http.MethodGet, "/private/", ""))
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	r.Header.Set("Sec-Fetch-Mode", "navigate")
	got = serve(s.auth, r, nil)
	if got.nextCalled || got.rec.Code != http.StatusOK || !strings.Contains(got.rec.Body.String(), `content="0;url=/private/"`) {
		t.Fatalf("cross-site navigation without a session: %d\n%s", got.rec.Code, got.rec.Body)
	}
	for name, r := range map[string]*http.Request{
		"API client":                     request(http.MethodGet, "/api/x", ""),
		"browser POST":                   html(request(http.MethodPost, "/private/form", "a=b")),
		"browser on the issuer's paths":  html(request(http.MethodGet, "/s1/token/login", "")),
		"browser on the issuer's base":   html(request(http.MethodGet, "/s1/token", "")),
		"browser with a garbage session": html(request(http.MethodGet, "/s1/token/login?next=/", "", "gatehouse_access", "x.y.z")),
	} {
		got := serve(s.auth, r, nil)
		if got.nextCalled || got.rec.Code != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, got.rec.Code)
		}
	}
}

func TestSessionAccessCookie(t *testing.T) {
	s := newSessionSite(t, "/s2/token")
	access, refresh := s.tokens(t)
	r := request(http.MethodGet, "/api/x", "", "theme", "dark", "gatehouse_access", access, "gatehouse_refresh", refresh)
	r.Header.Set("X-User-Id", "999")
	got := serve(s.auth, r, nil)
	if !got.nextCalled || got.nextHeader.Get("X-User-Id") != "7" || got.placeholder("http.auth.user.id") != "7" {
		t.Fatalf("access cookie: next %v, X-User-Id %q", got.nextCalled, got.nextHeader.Get("X-User-Id"))
	}
	if c := got.nextHeader.Get("Cookie"); c != "theme=dark; gatehouse_access="+access {
		t.Fatalf("the upstream got Cookie %q; the refresh cookie must be gone, the rest kept", c)
	}
	if sc := got.rec.Header().Values("Set-Cookie"); len(sc) != 0 {
		t.Fatalf("a valid access cookie set cookies: %q", sc)
	}
	// A page shown on the cookie must be revalidated, never shown from a cache after logout.
	if cc := got.rec.Header().Values("Cache-Control"); len(cc) != 1 || cc[0] != "private, no-cache" {
		t.Fatalf("Cache-Control of a cookie-authenticated answer: %q", cc)
	}

	// State-changing requests with the cookie must come from the site's pages.
	for name, origin := range map[string]string{"another site": "https://evil.example", "no origin": ""} {
		r := request(http.MethodPost, "/api/x", "{}", "gatehouse_access", access)
		r.Header.Del("Origin")
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		got := serve(s.auth, r, nil)
		if got.nextCalled || got.rec.Code != http.StatusForbidden || got.rec.Body.String() != string(bodyCrossSite) ||
			got.placeholder("http.auth.jwt.error") != reasonCrossSite {
			t.Errorf("cookie POST from %s: %d %s", name, got.rec.Code, got.rec.Body)
		}
	}
	if got := serve(s.auth, request(http.MethodPost, "/api/x", "{}", "gatehouse_access", access), nil); !got.nextCalled {
		t.Errorf("cookie POST from the site: %d", got.rec.Code)
	}
	// A Bearer token is an API client's: no cookie, so no Origin check.
	r = request(http.MethodPost, "/api/x", "{}")
	r.Header.Del("Origin")
	r.Header.Set("Authorization", "Bearer "+access)
	if got := serve(s.auth, r, nil); !got.nextCalled {
		t.Errorf("Bearer POST without Origin: %d", got.rec.Code)
	}
}

func TestSessionRenewal(t *testing.T) {
	s := newSessionSite(t, "/s3/token")
	_, refresh := s.tokens(t)
	r := request(http.MethodPost, "/api/notes", `{"note":"kept"}`, "gatehouse_refresh", refresh)
	got := serve(s.auth, r, nil)
	if !got.nextCalled || got.nextHeader.Get("X-User-Id") != "7" || got.nextHeader.Get("Cookie") != "" {
		t.Fatalf("renewal: next %v %d, X-User-Id %q, Cookie %q", got.nextCalled, got.rec.Code, got.nextHeader.Get("X-User-Id"), got.nextHeader.Get("Cookie"))
	}
	sc := got.rec.Header().Values("Set-Cookie")
	if len(sc) != 2 || !strings.HasPrefix(sc[0], "gatehouse_access=ey") || !strings.HasPrefix(sc[1], "gatehouse_refresh=ey") || strings.Contains(sc[1], refresh) {
		t.Fatalf("renewal cookies: %q", sc)
	}
	if cc := got.rec.Header().Values("Cache-Control"); len(cc) != 1 || cc[0] != "no-store" {
		t.Fatalf("Cache-Control of an answer setting cookies: %q", cc)
	}

	// The body reaches next as sent.
	r = request(http.MethodPost, "/api/notes", `{"note":"kept"}`, "gatehouse_refresh", refresh)
	var seen string
	rec := httptest.NewRecorder()
	err := s.auth.ServeHTTP(rec, r, caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		b, _ := io.ReadAll(r.Body)
		seen = string(b)
		return nil
	}))
	if err != nil || seen != `{"note":"kept"}` {
		t.Fatalf("renewal lost the body: %v %q", err, seen)
	}

	// The renewed cookie's successor works; a bad refresh cookie ends the session.
	got = serve(s.auth, html(request(http.MethodGet, "/private/", "", "gatehouse_refresh", "garbage")), nil)
	sc = got.rec.Header().Values("Set-Cookie")
	if got.nextCalled || got.rec.Code != http.StatusFound || len(sc) != 2 || !strings.Contains(sc[0], "Max-Age=0") {
		t.Fatalf("bad refresh cookie: %d %q", got.rec.Code, sc)
	}

	// With the storage down, the session is neither renewed nor ended: 503.
	_, refresh2 := s.tokens(t)
	s.storage.Fail(kv.OpDown)
	got = serve(s.auth, request(http.MethodGet, "/api/x", "", "gatehouse_refresh", refresh2), nil)
	if got.nextCalled || got.rec.Code != http.StatusServiceUnavailable || len(got.rec.Header().Values("Set-Cookie")) != 0 {
		t.Fatalf("storage down: %d %q", got.rec.Code, got.rec.Header().Values("Set-Cookie"))
	}
}

func TestSessionIssuerMissing(t *testing.T) {
	j := provision(t, &JWTAuth{Session: "/nowhere", Secret: testSecret})
	got := serve(j, html(request(http.MethodGet, "/private/", "")), nil)
	if got.rec.Code != http.StatusFound || got.rec.Header().Get("Location") != "/nowhere/login?next=%2Fprivate%2F" {
		t.Fatalf("browser, no issuer loaded: %d %q", got.rec.Code, got.rec.Header().Get("Location"))
	}
	if got := serve(j, bearer(hsToken("")), nil); !got.nextCalled {
		t.Fatalf("Bearer token, no issuer loaded: %d", got.rec.Code)
	}
}

func TestSessionCrossSiteBeforeRenewal(t *testing.T) {
	s := newSessionSite(t, "/s4/token")
	_, refresh := s.tokens(t)
	r := request(http.MethodPost, "/api/x", "{}", "gatehouse_refresh", refresh)
	r.Header.Set("Origin", "https://evil.example")
	got := serve(s.auth, r, nil)
	if got.nextCalled || got.rec.Code != http.StatusForbidden || len(got.rec.Header().Values("Set-Cookie")) != 0 {
		t.Fatalf("cross-site POST with the refresh cookie: %d, cookies %q", got.rec.Code, got.rec.Header().Values("Set-Cookie"))
	}
	// The refresh token was not used up: the site's own page can still renew with it.
	if got := serve(s.auth, request(http.MethodPost, "/api/x", "{}", "gatehouse_refresh", refresh), nil); !got.nextCalled {
		t.Fatalf("renewal after the refused cross-site request: %d", got.rec.Code)
	}
}

func TestMarkForwardedHTTPS(t *testing.T) {
	for _, c := range []struct {
		name    string
		trusted bool
		proto   string
		https   bool
	}{
		{"trusted proxy says https", true, "https", true},
		{"trusted proxy says http", true, "http", false},
		{"untrusted client says https", false, "https", false},
		{"trusted proxy, no header", true, "", false},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Host = "site.example"
		if c.proto != "" {
			r.Header.Set("X-Forwarded-Proto", c.proto)
		}
		r = caddyhttp.PrepareRequest(r, caddy.NewReplacer(), httptest.NewRecorder(), new(caddyhttp.Server))
		caddyhttp.SetVar(r.Context(), caddyhttp.TrustedProxyVarKey, c.trusted)
		r = markForwardedHTTPS(r)
		if got := session.HTTPS(r); got != c.https {
			t.Errorf("%s: HTTPS = %v, want %v", c.name, got, c.https)
		}
		if got, want := session.SiteOrigin(r), map[bool]string{true: "https://site.example", false: "http://site.example"}[c.https]; got != want {
			t.Errorf("%s: SiteOrigin = %q, want %q", c.name, got, want)
		}
	}
}
