package session

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestSafeNext(t *testing.T) {
	const base = "/api/token"
	kept := []string{
		"/",
		"/private/",
		"/private/page?x=1&y=2",
		"/a%20b",              // an encoded space
		"/caf%C3%A9",          // encoded UTF-8
		"/search?q=%2Fetc",    // an encoded slash in the query
		"/api/tokens",         // shares a prefix with base, is not under it
		"/private/#section-2", // a fragment
	}
	for _, next := range kept {
		if got := SafeNext(next, base); got != next {
			t.Errorf("SafeNext(%q) = %q, want it kept", next, got)
		}
	}
	refused := []string{
		"",
		"//evil.example",
		"//evil.example/path",
		"/\\evil.example",
		"\\\\evil.example",
		"https://evil.example",
		"http://evil.example/private/",
		"HTTPS://evil.example",
		"javascript:alert(1)",
		"evil.example",
		"private/",
		"/%2Fevil.example",        // decodes to //evil.example
		"%2F%2Fevil.example",      // decodes to //evil.example
		"/%5Cevil.example",        // decodes to /\evil.example
		"%2f%2fevil.example",      // lower-case escapes
		"/%252F%252Fevil.example", // double-encoded
		"/%25252F%25252Fevil.example",
		"/\tevil",
		"/\r\nSet-Cookie:x=y",
		"/%0d%0aSet-Cookie:x=y", // encoded CRLF
		"/%00",
		"/ space",
		"/private/../../evil",
		"/./private",
		"/private/%2e%2e/secret",
		"/api/token",
		"/api/token/login",
		"/api/token/login?next=//evil",
		"/api%2Ftoken/login", // base, encoded
		"/é",                 // raw non-ASCII
		"/" + strings.Repeat("a", 3000),
		"/%zz", // a bad escape
	}
	for _, next := range refused {
		if got := SafeNext(next, base); got != "/" {
			t.Errorf("SafeNext(%q) = %q, want /", next, got)
		}
	}
}

func TestLoginURL(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/private/page?x=1", nil)
	if got, want := LoginURL("/api/token", r), "/api/token/login?next=%2Fprivate%2Fpage%3Fx%3D1"; got != want {
		t.Errorf("LoginURL = %q, want %q", got, want)
	}
	// An absolute-form request target is not a path: next falls back to /.
	r = httptest.NewRequest(http.MethodGet, "http://site.example/private/", nil)
	r.RequestURI = "http://evil.example/"
	r.URL.Path, r.URL.RawQuery = "/private/", ""
	if got, want := LoginURL("/api/token", r), "/api/token/login?next=%2Fprivate%2F"; got != want {
		t.Errorf("LoginURL of an absolute-form request = %q, want %q", got, want)
	}
}

func TestFromSite(t *testing.T) {
	trustedOrigins, err := ParseOrigins([]string{"https://app.example", "https://*.apps.example"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		host    string
		tls     bool
		headers map[string][]string
		want    bool
	}{
		{"same origin", "site.example", true, map[string][]string{"Origin": {"https://site.example"}}, true},
		{"same origin, explicit default port", "site.example", true, map[string][]string{"Origin": {"https://site.example:443"}}, true},
		{"same origin, upper case", "site.example", true, map[string][]string{"Origin": {"HTTPS://SITE.EXAMPLE"}}, true},
		{"plain http localhost", "localhost:8080", false, map[string][]string{"Origin": {"http://localhost:8080"}}, true},
		{"trusted origin", "site.example", true, map[string][]string{"Origin": {"https://app.example"}}, true},
		{"other site", "site.example", true, map[string][]string{"Origin": {"https://evil.example"}}, false},
		{"sibling subdomain", "site.example", true, map[string][]string{"Origin": {"https://x.site.example"}}, false},
		{"scheme downgrade", "site.example", true, map[string][]string{"Origin": {"http://site.example"}}, false},
		{"other port", "site.example", true, map[string][]string{"Origin": {"https://site.example:8443"}}, false},
		{"null origin", "site.example", true, map[string][]string{"Origin": {"null"}}, false},
		{"two origins", "site.example", true, map[string][]string{"Origin": {"https://site.example", "https://evil.example"}}, false},
		{"referer of the site", "site.example", true, map[string][]string{"Referer": {"https://site.example/private/"}}, true},
		{"referer of another site", "site.example", true, map[string][]string{"Referer": {"https://evil.example/site.example"}}, false},
		{"origin wins over referer", "site.example", true, map[string][]string{"Origin": {"https://evil.example"}, "Referer": {"https://site.example/"}}, false},
		{"neither header", "site.example", true, nil, false},
		{"garbage origin", "site.example", true, map[string][]string{"Origin": {"https://site.example/path"}}, false},
		{"pattern origin", "site.example", true, map[string][]string{"Origin": {"https://x.apps.example"}}, true},
		{"pattern origin, two labels", "site.example", true, map[string][]string{"Origin": {"https://x.y.apps.example"}}, false},
		{"pattern's own domain", "site.example", true, map[string][]string{"Origin": {"https://apps.example"}}, false},
		{"pattern origin, attacker suffix", "site.example", true, map[string][]string{"Origin": {"https://x.apps.example.attacker.com"}}, false},
		{"pattern referer", "site.example", true, map[string][]string{"Referer": {"https://x.apps.example/page"}}, true},
	}
	for _, c := range cases {
		r := httptest.NewRequest(http.MethodPost, "/api/token/login", nil)
		r.Host = c.host
		if c.tls {
			r.TLS = &tls.ConnectionState{}
		} else {
			r.TLS = nil
		}
		for k, v := range c.headers {
			r.Header[k] = v
		}
		if got := FromSite(r, trustedOrigins); got != c.want {
			t.Errorf("%s: FromSite = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestNormalizeOrigin(t *testing.T) {
	good := map[string]string{
		"https://App.Example":     "https://app.example",
		"https://app.example:443": "https://app.example",
		"http://app.example:80":   "http://app.example",
		"http://app.example:8080": "http://app.example:8080",
		"https://app.example/":    "https://app.example",
		"http://[::1]:8080":       "http://[::1]:8080",
	}
	for in, want := range good {
		if got, err := NormalizeOrigin(in); err != nil || got != want {
			t.Errorf("NormalizeOrigin(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "app.example", "ftp://app.example", "https://app.example/path", "https://u@app.example", "https://app.example?x", "https://"} {
		if got, err := NormalizeOrigin(in); err == nil {
			t.Errorf("NormalizeOrigin(%q) = %q, want an error", in, got)
		}
	}
}

func TestWantsHTMLAndUnsafe(t *testing.T) {
	cases := []struct {
		method, accept string
		html           bool
	}{
		{http.MethodGet, "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", true},
		{http.MethodHead, "TEXT/HTML", true},
		{http.MethodGet, "application/json", false},
		{http.MethodGet, "*/*", false},
		{http.MethodGet, "", false},
		{http.MethodPost, "text/html", false},
	}
	for _, c := range cases {
		r := httptest.NewRequest(c.method, "/", nil)
		if c.accept != "" {
			r.Header.Set("Accept", c.accept)
		}
		if got := WantsHTML(r); got != c.html {
			t.Errorf("WantsHTML(%s, %q) = %v, want %v", c.method, c.accept, got, c.html)
		}
	}
	for m, want := range map[string]bool{"GET": false, "HEAD": false, "OPTIONS": false, "TRACE": false, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "PROPFIND": true} {
		if got := Unsafe(httptest.NewRequest(m, "/", nil)); got != want {
			t.Errorf("Unsafe(%s) = %v, want %v", m, got, want)
		}
	}
}

func TestCookies(t *testing.T) {
	c := Cookies{Access: "a", Refresh: "r"}
	now := time.Unix(1000, 0)
	for _, tc := range []struct {
		name, host  string
		tls, secure bool
	}{
		{"https", "site.example", true, true},
		{"plain http to a name", "site.example", false, true},
		{"plain http to localhost", "localhost:8080", false, false},
		{"plain http to 127.0.0.1", "127.0.0.1:8080", false, false},
		{"plain http to ::1", "[::1]:8080", false, false},
	} {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.Host = tc.host
		if tc.tls {
			r.TLS = &tls.ConnectionState{}
		} else {
			r.TLS = nil
		}
		w := httptest.NewRecorder()
		c.Set(w, r, now, "AAA", now.Add(300*time.Second), "RRR", now.Add(24*time.Hour))
		got := w.Header().Values("Set-Cookie")
		sec := ""
		if tc.secure {
			sec = "; Secure"
		}
		want := []string{
			"a=AAA; Path=/; Max-Age=300; HttpOnly" + sec + "; SameSite=Lax",
			"r=RRR; Path=/; Max-Age=86400; HttpOnly" + sec + "; SameSite=Strict",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: Set-Cookie\n%s\nwant\n%s", tc.name, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-store", tc.name, cc)
		}
		w = httptest.NewRecorder()
		c.Clear(w, r)
		want = []string{
			"a=; Path=/; Max-Age=0; HttpOnly" + sec + "; SameSite=Lax",
			"r=; Path=/; Max-Age=0; HttpOnly" + sec + "; SameSite=Strict",
		}
		if got := w.Header().Values("Set-Cookie"); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: clearing Set-Cookie\n%s\nwant\n%s", tc.name, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	// Only the access cookie without a refresh token; a __Host- name is always Secure.
	r := httptest.NewRequest(http.MethodGet, "http://localhost/", nil)
	w := httptest.NewRecorder()
	Cookies{Access: "__Host-a", Refresh: "r"}.Set(w, r, now, "AAA", now.Add(time.Second/2), "", time.Time{})
	if got := w.Header().Values("Set-Cookie"); len(got) != 1 || got[0] != "__Host-a=AAA; Path=/; Max-Age=1; HttpOnly; Secure; SameSite=Lax" {
		t.Errorf("access only: %q", got)
	}
}

func TestValueAndStrip(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header["Cookie"] = []string{"theme=dark; gatehouse_refresh=RRR; gatehouse_access=AAA", "other=1", "gatehouse_refresh_x=keep"}
	if v, ok := Value(r, "gatehouse_access"); !ok || v != "AAA" {
		t.Fatalf("Value(access) = %q, %v", v, ok)
	}
	if !Strip(r, "gatehouse_refresh") {
		t.Fatal("Strip found no refresh cookie")
	}
	want := []string{"theme=dark; gatehouse_access=AAA", "other=1", "gatehouse_refresh_x=keep"}
	if got := r.Header["Cookie"]; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("after Strip: %q, want %q", got, want)
	}
	if _, ok := Value(r, "gatehouse_refresh"); ok {
		t.Fatal("the refresh cookie is still readable after Strip")
	}
	if Strip(r, "gatehouse_refresh") {
		t.Fatal("Strip found the refresh cookie twice")
	}

	r.Header["Cookie"] = []string{"gatehouse_refresh=RRR"}
	Strip(r, "gatehouse_refresh")
	if _, ok := r.Header["Cookie"]; ok {
		t.Fatal("an empty Cookie header was kept")
	}

	// A name sent twice (a sibling subdomain can plant one) is ambiguous: neither is used.
	r.Header["Cookie"] = []string{"gatehouse_access=A1; gatehouse_access=A2"}
	if v, ok := Value(r, "gatehouse_access"); ok {
		t.Fatalf("Value of a doubled cookie = %q, want none", v)
	}
}

func TestInsecure(t *testing.T) {
	for host, want := range map[string]bool{"localhost:8080": false, "app.localhost": false, "127.0.0.2": false, "[::1]:1": false, "site.example": true, "10.0.0.1:80": true} {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.Host = host
		if got := Insecure(r); got != want {
			t.Errorf("Insecure(http://%s) = %v, want %v", host, got, want)
		}
		r.TLS = &tls.ConnectionState{}
		if Insecure(r) {
			t.Errorf("Insecure(https://%s) = true", host)
		}
	}
}

func TestCheckCookieName(t *testing.T) {
	for _, ok := range []string{"gatehouse_access", "__Host-a", "a.b-c"} {
		if err := CheckCookieName(ok); err != nil {
			t.Errorf("CheckCookieName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a b", "a;b", "a=b", "é", "a\x00"} {
		if err := CheckCookieName(bad); err == nil {
			t.Errorf("CheckCookieName(%q) = nil, want an error", bad)
		}
	}
}

func TestBounce(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, `/private/it's?a="b"&c=<d>`, nil)
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	r.Header.Set("Sec-Fetch-Mode", "navigate")
	if !CrossSiteNavigation(r) {
		t.Fatal("a cross-site navigation was not recognized")
	}
	w := httptest.NewRecorder()
	Bounce(w, r, "/api/token")
	body := w.Body.String()
	if w.Code != http.StatusOK || !strings.Contains(body, `<meta http-equiv="refresh" content="0;url=/private/it%27s?a=%22b%22&amp;c=&lt;d&gt;">`) {
		t.Fatalf("bounce: %d\n%s", w.Code, body)
	}
	if w.Header().Get("Cache-Control") != "no-store" || strings.Contains(body, "<script") {
		t.Fatalf("bounce headers %v", w.Header())
	}
	for _, c := range []struct{ site, mode string }{{"same-origin", "navigate"}, {"same-site", "navigate"}, {"none", "navigate"}, {"cross-site", "cors"}, {"", ""}} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Sec-Fetch-Site", c.site)
		r.Header.Set("Sec-Fetch-Mode", c.mode)
		if CrossSiteNavigation(r) {
			t.Errorf("Sec-Fetch-Site %q, Mode %q taken for a cross-site navigation", c.site, c.mode)
		}
	}
	// The bounce goes nowhere but this site.
	r = httptest.NewRequest(http.MethodGet, "/x", nil)
	r.RequestURI = "//evil.example/"
	w = httptest.NewRecorder()
	Bounce(w, r, "/api/token")
	if !strings.Contains(w.Body.String(), `content="0;url=/"`) {
		t.Fatalf("bounce of a hostile target:\n%s", w.Body)
	}
}
