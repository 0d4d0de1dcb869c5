package issuer

import (
	"context"
	"errors"
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/limit"
	"github.com/gatehouse-dev/gatehouse/internal/mint"
	"github.com/gatehouse-dev/gatehouse/internal/users"
)

// site is the origin the session tests' browser is on: plain http to localhost, where cookies
// go without Secure.
const site = "http://localhost:8080"

func withSession(c *Config) {
	c.BasePath = "/api/token"
	c.Session = &SessionConfig{}
}

// browser sends a request as a browser on site would: Host, Origin (for POST), a form body and
// the given cookies.
func (f *fixture) browser(method, target, form string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, strings.NewReader(form))
	r.Host = "localhost:8080"
	if method == http.MethodPost {
		r.Header.Set("Origin", site)
		r.Header.Set("Content-Type", ctForm)
	}
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w
}

// setCookies returns the cookies w sets, by name.
func setCookies(w *httptest.ResponseRecorder) map[string]*http.Cookie {
	out := map[string]*http.Cookie{}
	for _, c := range (&http.Response{Header: w.Header()}).Cookies() {
		out[c.Name] = c
	}
	return out
}

// browserLogin logs alice in through the form and returns her two cookies.
func (f *fixture) browserLogin() (access, refresh *http.Cookie) {
	f.t.Helper()
	w := f.browser(http.MethodPost, "/api/token/login", url.Values{"username": {"alice"}, "password": {alicePassword}, "next": {"/private/"}}.Encode())
	if w.Code != http.StatusSeeOther {
		f.t.Fatalf("form login: %d %s", w.Code, w.Body)
	}
	cs := setCookies(w)
	access, refresh = cs["gatehouse_access"], cs["gatehouse_refresh"]
	if access == nil || refresh == nil {
		f.t.Fatalf("form login set %v", w.Header().Values("Set-Cookie"))
	}
	return access, refresh
}

func TestLoginPage(t *testing.T) {
	f := newFixture(t, withSession)
	for _, c := range []struct{ query, next string }{
		{"?next=%2Fprivate%2F", "/private/"},
		{"?next=%2F%2Fevil.example%2F", "/"},
		{"?next=https%3A%2F%2Fevil.example", "/"},
		{"?next=%22%3E%3Cscript%3E", "/"},
		{"", "/"},
	} {
		w := f.browser(http.MethodGet, "/api/token/login"+c.query, "")
		if w.Code != http.StatusOK {
			t.Fatalf("GET login%s: %d", c.query, w.Code)
		}
		body := w.Body.String()
		for _, want := range []string{
			`<form method="post" action="/api/token/login">`,
			`<input type="hidden" name="next" value="` + c.next + `">`,
			`name="username"`, `name="password" type="password"`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("GET login%s: the page lacks %s", c.query, want)
			}
		}
		if strings.Contains(body, "<script") || strings.Contains(body, "role=\"alert\"") {
			t.Errorf("GET login%s: unexpected script or error on a first display", c.query)
		}
		h := w.Header()
		for name, want := range map[string]string{
			"Content-Type":            "text/html; charset=utf-8",
			"Cache-Control":           "no-store",
			"X-Frame-Options":         "DENY",
			"Content-Security-Policy": loginPageCSP,
		} {
			if got := h.Get(name); got != want {
				t.Errorf("GET login: %s %q, want %q", name, got, want)
			}
		}
	}
	if w := f.browser(http.MethodHead, "/api/token/login/", ""); w.Code != http.StatusOK || w.Body.Len() != 0 {
		t.Errorf("HEAD login: %d with %d body bytes", w.Code, w.Body.Len())
	}
	if w := f.browser(http.MethodPut, "/api/token/login", ""); w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, HEAD, POST" {
		t.Errorf("PUT login: %d Allow %q", w.Code, w.Header().Get("Allow"))
	}
	if w := f.browser(http.MethodGet, "/api/token/logout", ""); w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "POST" {
		t.Errorf("GET logout: %d Allow %q", w.Code, w.Header().Get("Allow"))
	}

	// Without session, there are no such pages.
	off := newFixture(t, basePath("/api/token"))
	if w := off.browser(http.MethodGet, "/api/token/login", ""); w.Code != http.StatusNotFound {
		t.Errorf("GET login without session: %d", w.Code)
	}
}

func TestLoginPageTemplate(t *testing.T) {
	tmpl := template.Must(template.New("mine").Parse(`<p>{{.Action}}|{{.Next}}|{{.Username}}|{{.Error}}</p>`))
	f := newFixture(t, withSession, func(c *Config) { c.Session.LoginPage = tmpl })
	w := f.browser(http.MethodGet, "/api/token/login?next=/x", "")
	if got := w.Body.String(); got != "<p>/api/token/login|/x||</p>" {
		t.Fatalf("custom page: %q", got)
	}
	w = f.browser(http.MethodPost, "/api/token/login", "username=%3Cb%3E&password=wrong&next=/x")
	if got, want := w.Body.String(), "<p>/api/token/login|/x|&lt;b&gt;|"+template.HTMLEscapeString(msgBadCredentials)+"</p>"; w.Code != http.StatusUnauthorized || got != want {
		t.Fatalf("custom page after a failure: %d %q, want %q", w.Code, got, want)
	}
}

func TestLoginForm(t *testing.T) {
	f := newFixture(t, withSession, rotating)
	w := f.browser(http.MethodPost, "/api/token/login", "username=alice&password="+url.QueryEscape(alicePassword)+"&next=%2Fprivate%2F%3Fx%3D1")
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/private/?x=1" {
		t.Fatalf("login: %d Location %q", w.Code, w.Header().Get("Location"))
	}
	sc := w.Header().Values("Set-Cookie")
	if len(sc) != 2 || !strings.HasPrefix(sc[0], "gatehouse_access=ey") || !strings.HasSuffix(sc[0], "; Path=/; Max-Age=300; HttpOnly; SameSite=Lax") ||
		!strings.HasPrefix(sc[1], "gatehouse_refresh=ey") || !strings.HasSuffix(sc[1], "; Path=/; Max-Age=86400; HttpOnly; SameSite=Strict") {
		t.Fatalf("login cookies: %q", sc)
	}
	cs := setCookies(w)
	if p := payload(t, cs["gatehouse_access"].Value); p["token_type"] != "access" || p["user_id"] != 7.0 {
		t.Fatalf("access cookie claims: %v", p)
	}
	if p := payload(t, cs["gatehouse_refresh"].Value); p["token_type"] != "refresh" {
		t.Fatalf("refresh cookie claims: %v", p)
	}

	for _, next := range []string{"//evil.example/", "https://evil.example/", "/\\evil.example", "/%2F%2Fevil.example", "/api/token/login"} {
		w := f.browser(http.MethodPost, "/api/token/login", url.Values{"username": {"bob"}, "password": {bobPassword}, "next": {next}}.Encode())
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/" {
			t.Errorf("login with next %q: %d Location %q, want /", next, w.Code, w.Header().Get("Location"))
		}
	}

	// Wrong password: the form again, the name kept, an alert, no cookie.
	w = f.browser(http.MethodPost, "/api/token/login", "username=alice&password=nope&next=%2Fprivate%2F")
	body := w.Body.String()
	if w.Code != http.StatusUnauthorized || !strings.Contains(body, `role="alert"`) || !strings.Contains(body, template.HTMLEscapeString(msgBadCredentials)) ||
		!strings.Contains(body, `value="alice"`) || !strings.Contains(body, `name="next" value="/private/"`) || len(w.Header().Values("Set-Cookie")) != 0 {
		t.Fatalf("wrong password: %d %v\n%s", w.Code, w.Header(), body)
	}
	if w := f.browser(http.MethodPost, "/api/token/login", "username=alice"); w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), msgIncomplete) {
		t.Fatalf("no password: %d", w.Code)
	}
	f.noSecretsLogged(alicePassword, cs["gatehouse_access"].Value, cs["gatehouse_refresh"].Value)
}

func TestLoginFormRefusals(t *testing.T) {
	f := newFixture(t, withSession)
	form := "username=alice&password=" + url.QueryEscape(alicePassword)
	post := func(host string, headers ...string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/api/token/login", strings.NewReader(form))
		r.Host = host
		r.Header.Set("Content-Type", ctForm)
		for i := 0; i < len(headers); i += 2 {
			r.Header.Set(headers[i], headers[i+1])
		}
		w := httptest.NewRecorder()
		f.h.ServeHTTP(w, r)
		return w
	}
	before := f.users.calls.Load()
	for _, c := range []struct {
		name    string
		host    string
		headers []string
		status  int
	}{
		{"another site's form", "localhost:8080", []string{"Origin", "https://evil.example"}, http.StatusForbidden},
		{"a sibling origin", "localhost:8080", []string{"Origin", "http://localhost:9090"}, http.StatusForbidden},
		{"another site's referer", "localhost:8080", []string{"Referer", "https://evil.example/x"}, http.StatusForbidden},
		{"neither origin nor referer", "localhost:8080", nil, http.StatusForbidden},
		{"plain http to a public name", "site.example", []string{"Origin", "http://site.example"}, http.StatusBadRequest},
	} {
		w := post(c.host, c.headers...)
		if w.Code != c.status || len(w.Header().Values("Set-Cookie")) != 0 || !strings.Contains(w.Body.String(), `role="alert"`) {
			t.Errorf("%s: %d, cookies %q", c.name, w.Code, w.Header().Values("Set-Cookie"))
		}
	}
	if n := f.users.calls.Load() - before; n != 0 {
		t.Errorf("refused forms checked %d passwords", n)
	}
	if w := post("localhost:8080", "Referer", site+"/api/token/login"); w.Code != http.StatusSeeOther {
		t.Errorf("a same-site referer without origin: %d", w.Code)
	}

	f.users.setErr(users.ErrUnavailable)
	if w := post("localhost:8080", "Origin", site); w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), msgUnavailable) {
		t.Errorf("credential check down: %d", w.Code)
	}

	lf := newFixture(t, withSession, func(c *Config) { c.IPLimit = limit.Local{Limiter: limit.NewLimiter(1, time.Hour, 0)} })
	lf.browser(http.MethodPost, "/api/token/login", "username=alice&password=wrong")
	w := lf.browser(http.MethodPost, "/api/token/login", form)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), "Too many sign-in attempts") {
		t.Errorf("throttled: %d Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
}

func TestLogout(t *testing.T) {
	f := newFixture(t, withSession, rotating)
	access, refresh := f.browserLogin()

	// From another site: refused, and the session lives on.
	r := httptest.NewRequest(http.MethodPost, "/api/token/logout", nil)
	r.Host = "localhost:8080"
	r.Header.Set("Origin", "https://evil.example")
	r.AddCookie(refresh)
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	if w.Code != http.StatusForbidden || len(w.Header().Values("Set-Cookie")) != 0 {
		t.Fatalf("cross-site logout: %d %q", w.Code, w.Header().Values("Set-Cookie"))
	}

	w = f.browser(http.MethodPost, "/api/token/logout", "", access, refresh)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/api/token/login" {
		t.Fatalf("logout: %d Location %q", w.Code, w.Header().Get("Location"))
	}
	want := []string{
		"gatehouse_access=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax",
		"gatehouse_refresh=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict",
	}
	if got := w.Header().Values("Set-Cookie"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("logout cookies: %q", got)
	}
	// The old refresh cookie, replayed, renews nothing, and the token is blacklisted for the
	// JSON endpoints too.
	rw := httptest.NewRecorder()
	rr := httptest.NewRequest(http.MethodGet, "/private/", nil)
	rr.Host = "localhost:8080"
	if _, err := f.h.Sessions().Renew(rw, rr, refresh.Value); !errors.Is(err, ErrNoSession) {
		t.Fatalf("renew after logout: %v", err)
	}
	f.expect(f.post("/api/token/refresh/", "refresh", refresh.Value), http.StatusUnauthorized, string(problemBlacklisted.body))

	// next is honoured when safe; logging out without a session still clears the cookies.
	w = f.browser(http.MethodPost, "/api/token/logout", "next=%2Fgoodbye.html")
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/goodbye.html" || len(w.Header().Values("Set-Cookie")) != 2 {
		t.Fatalf("logout with next: %d %q", w.Code, w.Header().Get("Location"))
	}
	w = f.browser(http.MethodPost, "/api/token/logout?next=//evil.example", "")
	if w.Header().Get("Location") != "/" {
		t.Fatalf("logout with a hostile next: Location %q", w.Header().Get("Location"))
	}
}

func TestLogoutStorageDown(t *testing.T) {
	f := newFixture(t, withSession)
	_, refresh := f.browserLogin()
	f.storage.readOnly.Store(true)
	w := f.browser(http.MethodPost, "/api/token/logout", "", refresh)
	if w.Code != http.StatusServiceUnavailable || len(w.Header().Values("Set-Cookie")) != 0 || !strings.Contains(w.Body.String(), "still signed in") {
		t.Fatalf("logout with storage down: %d %q", w.Code, w.Header().Values("Set-Cookie"))
	}
	// Down altogether, the refresh cookie cannot even be checked: the same answer, not a
	// logout that clears the cookies and leaves the token valid.
	f.storage.down.Store(true)
	w = f.browser(http.MethodPost, "/api/token/logout", "", refresh)
	if w.Code != http.StatusServiceUnavailable || len(w.Header().Values("Set-Cookie")) != 0 || !strings.Contains(w.Body.String(), "still signed in") {
		t.Fatalf("logout with storage unreadable: %d %q", w.Code, w.Header().Values("Set-Cookie"))
	}
	f.storage.down.Store(false)
	f.storage.readOnly.Store(false)
	if w := f.browser(http.MethodPost, "/api/token/logout", "", refresh); w.Code != http.StatusSeeOther {
		t.Fatalf("logout once storage is back: %d", w.Code)
	}
	f.expect(f.post("/api/token/refresh/", "refresh", refresh.Value), http.StatusUnauthorized, string(problemBlacklisted.body))
}

// renew calls Renew as jwt_auth does and returns the error and the cookies set.
func renew(f *fixture, raw string) (map[string]*http.Cookie, error) {
	r := httptest.NewRequest(http.MethodGet, "/private/", nil)
	r.Host = "localhost:8080"
	w := httptest.NewRecorder()
	access, err := f.h.Sessions().Renew(w, r, raw)
	cs := setCookies(w)
	if err == nil && (cs["gatehouse_access"] == nil || cs["gatehouse_access"].Value != access) {
		f.t.Fatalf("Renew returned a token other than the access cookie it set")
	}
	return cs, err
}

func TestRenew(t *testing.T) {
	f := newFixture(t, withSession)
	_, refresh := f.browserLogin()
	cs, err := renew(f, refresh.Value)
	if err != nil || cs["gatehouse_refresh"] != nil || payload(t, cs["gatehouse_access"].Value)["user_id"] != 7.0 {
		t.Fatalf("renew without rotation: %v %v", err, cs)
	}
	// Without rotation, the same refresh cookie renews again.
	if _, err := renew(f, refresh.Value); err != nil {
		t.Fatalf("second renew without rotation: %v", err)
	}
	for name, raw := range map[string]string{
		"garbage":       "not-a-token",
		"access token":  cs["gatehouse_access"].Value,
		"expired token": f.sign(`{"token_type":"refresh","exp":1,"iat":0,"jti":"0123456789abcdef0123456789abcdef","user_id":7}`),
	} {
		cs, err := renew(f, raw)
		if !errors.Is(err, ErrNoSession) || cs["gatehouse_access"] == nil || cs["gatehouse_access"].MaxAge != -1 || cs["gatehouse_refresh"].MaxAge != -1 {
			t.Errorf("renew with %s: %v, cookies %v (want them cleared)", name, err, cs)
		}
	}
	f.storage.down.Store(true)
	if cs, err := renew(f, refresh.Value); !errors.Is(err, ErrUnavailable) || len(cs) != 0 {
		t.Errorf("renew with storage down: %v, cookies %v", err, cs)
	}
}

func TestRenewRotatingGrace(t *testing.T) {
	f := newFixture(t, withSession, rotating)
	_, refresh := f.browserLogin()
	s := f.h.Sessions()
	clock := time.Now()
	s.now = func() time.Time { return clock }

	// A page and its parallel requests, all with the same cookie: every one is renewed, to the
	// same successor, and the session lives on.
	const n = 16
	results := make([]map[string]*http.Cookie, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = renew(f, refresh.Value)
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("parallel renew %d: %v", i, errs[i])
		}
		if results[i]["gatehouse_refresh"].Value != results[0]["gatehouse_refresh"].Value ||
			results[i]["gatehouse_access"].Value != results[0]["gatehouse_access"].Value {
			t.Fatalf("parallel renew %d got another successor", i)
		}
	}
	next := results[0]["gatehouse_refresh"].Value
	if next == refresh.Value {
		t.Fatal("rotation kept the refresh token")
	}
	if _, err := renew(f, next); err != nil {
		t.Fatalf("renewing with the successor: %v", err)
	}

	// The first cookie again, past the grace period: reuse, and the whole family ends.
	clock = clock.Add(renewGrace + time.Second)
	f.ahead = renewGrace + time.Second
	if _, err := renew(f, refresh.Value); !errors.Is(err, ErrNoSession) {
		t.Fatalf("reuse past the grace period: %v", err)
	}
	f.expect(f.post("/api/token/refresh/", "refresh", next), http.StatusUnauthorized, string(problemBlacklisted.body))
}

func TestRenewalsBounded(t *testing.T) {
	rs := renewals{m: make(map[string]*renewal)}
	now := time.Now()
	calls := 0
	renewOK := func() (mint.Token, mint.Token, *problem) {
		calls++
		return mint.Token{Raw: "a"}, mint.Token{Raw: "r"}, nil
	}
	for i := range maxRenewals + 10 {
		rs.do(context.Background(), "jti-"+strconv.Itoa(i), now, renewOK)
	}
	if len(rs.m) != maxRenewals {
		t.Fatalf("%d renewals remembered, want at most %d", len(rs.m), maxRenewals)
	}
	// Past the grace period, a new renewal sweeps the old ones out.
	rs.do(context.Background(), "late", now.Add(renewGrace), renewOK)
	if len(rs.m) != 1 {
		t.Fatalf("%d renewals remembered after the sweep, want 1", len(rs.m))
	}
	if calls != maxRenewals+11 {
		t.Fatalf("%d renewals ran, want every one", calls)
	}
	// A storage failure is not remembered: the next try runs again.
	failing := func() (mint.Token, mint.Token, *problem) {
		calls++
		return mint.Token{}, mint.Token{}, problemUnavailable
	}
	rs.do(context.Background(), "flaky", now.Add(renewGrace), failing)
	rs.do(context.Background(), "flaky", now.Add(renewGrace), renewOK)
	if calls != maxRenewals+13 {
		t.Fatalf("a storage failure was remembered")
	}
}

// TestLoginPageCSPForNext: the login page's form-action allows the origin of an absolute next
// (browsers check the redirect after the post against it), and nothing else.
func TestLoginPageCSPForNext(t *testing.T) {
	for next, want := range map[string]string{
		"/private/":                           "form-action 'self';",
		"https://b.home.example:8443/x?y=1":   "form-action 'self' https://b.home.example:8443;",
		"HTTPS://B.Home.Example/":             "form-action 'self' https://b.home.example;",
		"https://b.home.example'; script-src": "form-action 'self';",
	} {
		if got := loginPageCSPFor(loginPageCSP, next); !strings.Contains(got, want) {
			t.Errorf("CSP for next %q = %q, want %q in it", next, got, want)
		}
	}
}
