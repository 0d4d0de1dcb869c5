package session

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestOriginPatterns(t *testing.T) {
	o, err := ParseOrigins([]string{"https://*.home.example", "http://*.lab.example:8080", "https://app.other.example"})
	if err != nil {
		t.Fatal(err)
	}
	match := []string{
		"https://grafana.home.example",
		"https://git-1.home.example",
		"https://0.home.example",
		"http://x.lab.example:8080",
		"https://app.other.example",
	}
	for _, s := range match {
		if !o.Match(s) {
			t.Errorf("Match(%q) = false, want true", s)
		}
	}
	refuse := []string{
		"https://home.example",                    // the domain itself: not a subdomain
		"https://a.b.home.example",                // two labels where the pattern has one
		"https://evil.home.example.attacker.com",  // the pattern's domain, then another
		"https://evilhome.example",                // no dot before the suffix
		"https://.home.example",                   // an empty label
		"https://-x.home.example",                 // not a DNS label
		"https://x_y.home.example",                // not a DNS label
		"http://grafana.home.example",             // scheme downgrade
		"https://grafana.home.example:8443",       // another port
		"https://x.lab.example:8080",              // the pattern is http
		"http://x.lab.example",                    // the pattern has a port
		"http://x.lab.example:80",                 // (normalized to no port) still not 8080
		"https://user@grafana.home.example",       // not a normalized origin at all
		"https://grafana.home.example/",           // idem
		"https://app.other.example:444",           // exact origins are exact
		"https://x.app.other.example",             // an exact origin is no pattern
		"https://[::1]",                           // an address
		"https://x.home.example\x00.attacker.com", // a NUL byte
		"https://%2e.home.example",                // escapes
		"",
	}
	for _, s := range refuse {
		if o.Match(s) {
			t.Errorf("Match(%q) = true, want false", s)
		}
	}
	// What the CSRF check sees goes through NormalizeOrigin first: userinfo, paths and garbage
	// never make it to Match, and the default port is dropped.
	for in, want := range map[string]bool{
		"https://Grafana.HOME.example:443":          true,
		"https://user:pw@grafana.home.example":      false,
		"https://grafana.home.example@attacker.com": false,
		"https://attacker.com#.home.example":        false,
		"https://attacker.com?.home.example":        false,
		"https://attacker.com\\.home.example":       false,
		"https://grafana.home.example.":             false, // a trailing dot is another name to a browser's cookie jar
	} {
		n, err := NormalizeOrigin(in)
		got := err == nil && o.Match(n)
		if got != want {
			t.Errorf("NormalizeOrigin+Match(%q) = %v (%q, %v), want %v", in, got, n, err, want)
		}
	}
	for _, bad := range []string{"https://*.example", "https://*", "https://a.*.example", "https://*x.home.example", "*.home.example",
		"https://*.*.home.example", "ftp://*.home.example", "https://*.home.example/path", "https://*.127.0.0.1"} {
		if _, err := ParseOrigins([]string{bad}); err == nil {
			t.Errorf("ParseOrigins(%q) = nil error, want one", bad)
		}
	}
}

func TestReturnNext(t *testing.T) {
	origins, err := ParseOrigins([]string{"https://shop.other.example", "http://*.lab.example:8080"})
	if err != nil {
		t.Fatal(err)
	}
	rt := Return{Base: "/api/token", Domain: "home.example", Origins: origins}
	kept := []string{
		"/private/",
		"https://home.example/",
		"https://grafana.home.example/d/abc?x=1",
		"https://grafana.home.example",
		"https://a.b.home.example/deep",       // the cookie goes to every depth of the domain
		"https://grafana.home.example:8443/x", // any port of a cookie host
		"HTTPS://Grafana.Home.Example/x",
		"https://shop.other.example/cart",
		"http://x.lab.example:8080/",
	}
	for _, next := range kept {
		if got := rt.Next(next); got != next {
			t.Errorf("Next(%q) = %q, want it kept", next, got)
		}
	}
	refused := []string{
		"https://evil.example/",
		"https://home.example.attacker.com/",
		"https://grafana.home.example.attacker.com/",
		"https://attacker.com/.home.example",
		"https://attacker.com?.home.example",
		"https://attacker.com#.home.example",
		"https://grafana.home.example@attacker.com/",
		"https://user@grafana.home.example/",
		"https://attacker.com\\@grafana.home.example/",
		"https://grafana.home.example\\@attacker.com/",
		"https://grafana%2ehome.example/",
		"https://attacker.com%2f.home.example/",
		"https://grafana.home.example./",
		"http://grafana.home.example/", // plain http to a cookie host: the cookies are Secure
		"https://grafana.home.example:0/",
		"https://grafana.home.example:99999/",
		"https://grafana.home.example:/",
		"https://grafana.home.example:08443/",
		"https://[::1]/",
		"https://127.0.0.1/",
		"https://shop.other.example:8443/",
		"http://shop.other.example/",
		"http://x.y.lab.example:8080/",
		"https:grafana.home.example/",
		"https:/grafana.home.example/",
		"https:///grafana.home.example/",
		"//grafana.home.example/",
		"javascript://grafana.home.example/%0aalert(1)",
		"https://grafana.home.example/api/token/login", // the issuer's own pages
		"https://grafana.home.example//evil.example",   // a target SafeNext refuses
		"https://grafana.home.example/%2F%2Fevil.example",
		"https://grafana.home.example/../x",
		"https://grafana.home.example/\r\nSet-Cookie:x",
		"https://grafana.home.example/ x",
		"https://" + strings.Repeat("a", 2100) + ".home.example/",
	}
	for _, next := range refused {
		if got := rt.Next(next); got != "/" {
			t.Errorf("Next(%q) = %q, want /", next, got)
		}
	}
	// Without a cookie_domain or origins, only paths, as SafeNext.
	if got := (Return{Base: "/api/token"}).Next("https://grafana.home.example/"); got != "/" {
		t.Errorf("Next of an absolute URL without cookie_domain = %q, want /", got)
	}
}

func TestLoginURLAt(t *testing.T) {
	rt := Return{Base: "/api/token", Domain: "home.example"}
	r := httptest.NewRequest(http.MethodGet, "https://grafana.home.example/d/1?x=2", nil)
	if got, want := LoginURLAt("https://auth.home.example", "/api/token", rt, r),
		"https://auth.home.example/api/token/login?next=https%3A%2F%2Fgrafana.home.example%2Fd%2F1%3Fx%3D2"; got != want {
		t.Errorf("LoginURLAt = %q, want %q", got, want)
	}
	// A host outside the configuration (a Host header the client chose) comes back to "/".
	r = httptest.NewRequest(http.MethodGet, "https://evil.example/x", nil)
	if got, want := LoginURLAt("https://auth.home.example", "/api/token", rt, r), "https://auth.home.example/api/token/login?next=%2F"; got != want {
		t.Errorf("LoginURLAt of another host = %q, want %q", got, want)
	}
}

func TestCookieDomain(t *testing.T) {
	c := Cookies{Access: "a", Refresh: "r", Domain: "home.example"}
	r := httptest.NewRequest(http.MethodPost, "https://auth.home.example/", nil)
	now := time.Unix(1000, 0)
	w := httptest.NewRecorder()
	c.Set(w, r, now, "AAA", now.Add(300*time.Second), "RRR", now.Add(time.Hour))
	want := []string{
		"a=AAA; Path=/; Domain=home.example; Max-Age=300; HttpOnly; Secure; SameSite=Lax",
		"r=RRR; Path=/; Domain=home.example; Max-Age=3600; HttpOnly; Secure; SameSite=Strict",
	}
	if got := w.Header().Values("Set-Cookie"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Set-Cookie\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	w = httptest.NewRecorder()
	c.Clear(w, r)
	want = []string{
		"a=; Path=/; Domain=home.example; Max-Age=0; HttpOnly; Secure; SameSite=Lax",
		"r=; Path=/; Domain=home.example; Max-Age=0; HttpOnly; Secure; SameSite=Strict",
		"a=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax",
		"r=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict",
	}
	if got := w.Header().Values("Set-Cookie"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("clearing Set-Cookie\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, ok := range []string{"home.example", "a.b.example", "home.test"} {
		if err := CheckCookieDomain(ok); err != nil {
			t.Errorf("CheckCookieDomain(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "example", ".home.example", "Home.Example", "home.example.", "127.0.0.1", "home..example", "*.home.example", "home.example:443"} {
		if err := CheckCookieDomain(bad); err == nil {
			t.Errorf("CheckCookieDomain(%q) = nil, want an error", bad)
		}
	}
	for host, want := range map[string]bool{"home.example": true, "a.home.example": true, "A.Home.Example": true, "xhome.example": false, "home.example.evil": false, "evil.com": false} {
		if got := InDomain(host, "home.example"); got != want {
			t.Errorf("InDomain(%q) = %v, want %v", host, got, want)
		}
	}
}
