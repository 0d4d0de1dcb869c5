package cors

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func mustPolicy(t *testing.T, cfg Config) *Policy {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func preflight(origin, method, headers string) *http.Request {
	r := httptest.NewRequest(http.MethodOptions, "/api/x", nil)
	r.Header.Set("Origin", origin)
	r.Header.Set("Access-Control-Request-Method", method)
	if headers != "" {
		r.Header.Set("Access-Control-Request-Headers", headers)
	}
	return r
}

func TestAllows(t *testing.T) {
	p := mustPolicy(t, Config{Origins: []string{"https://App.example.com", "https://*.home.example", "http://localhost:3000"}})
	for o, want := range map[string]bool{
		"https://app.example.com":      true,
		"https://APP.example.com:443":  true,
		"http://app.example.com":       false, // another scheme is another origin
		"https://evil.example.com":     false,
		"https://grafana.home.example": true,
		"https://a.b.home.example":     false, // one label, as session origins: the same trust for CORS and CSRF
		"https://home.example":         false, // the pattern is for subdomains
		"https://evilhome.example":     false,
		"http://grafana.home.example":  false,
		"http://localhost:3000":        true,
		"http://localhost:3001":        false,
		"null":                         false,
		"":                             false,
		"https://app.example.com/x":    false,
	} {
		if got := p.Allows(o); got != want {
			t.Errorf("Allows(%q) = %v, want %v", o, got, want)
		}
	}
}

func TestNewRefuses(t *testing.T) {
	for _, tt := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "name the allowed origins"},
		{Config{Origins: []string{"*"}, Credentials: true}, "cannot be combined with credentials"},
		{Config{Origins: []string{"https://a.*.example"}}, "first label"},
		{Config{Origins: []string{"ftp://x"}}, "https://"},
		{Config{Origins: []string{"https://x"}, Methods: []string{"GET POST"}}, "not a method"},
		{Config{Origins: []string{"https://x"}, Headers: []string{"X:Y"}}, "not a header"},
	} {
		if _, err := New(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) = %v, want an error with %q", tt.cfg, err, tt.want)
		}
	}
}

func TestPreflight(t *testing.T) {
	p := mustPolicy(t, Config{Origins: []string{"https://app.example"}, Credentials: true})
	rec := httptest.NewRecorder()
	if !p.Preflight(rec, preflight("https://app.example", "DELETE", "authorization, content-type")) {
		t.Fatal("an allowed preflight was refused")
	}
	h := rec.Header()
	if rec.Code != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		h.Get("Access-Control-Allow-Credentials") != "true" || !strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") ||
		!strings.Contains(h.Get("Access-Control-Allow-Methods"), "DELETE") || h.Get("Access-Control-Max-Age") != "600" {
		t.Fatalf("allowed preflight: %d %v", rec.Code, h)
	}
	for _, r := range []*http.Request{
		preflight("https://evil.example", "GET", ""),
		preflight("https://app.example", "CONNECT", ""),
		preflight("https://app.example", "GET", "X-Other"),
	} {
		rec := httptest.NewRecorder()
		if p.Preflight(rec, r) || rec.Code != http.StatusForbidden || rec.Header().Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("refused preflight %v: %d %v", r.Header, rec.Code, rec.Header())
		}
	}
}

func TestActual(t *testing.T) {
	p := mustPolicy(t, Config{Origins: []string{"https://app.example"}})
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Origin", "https://app.example")
	h := http.Header{}
	p.Actual(h, r)
	if h.Get("Access-Control-Allow-Origin") != "https://app.example" || h.Get("Access-Control-Allow-Credentials") != "" || h.Get("Vary") != "Origin" {
		t.Fatalf("allowed origin: %v", h)
	}
	r.Header.Set("Origin", "https://evil.example")
	h = http.Header{}
	p.Actual(h, r)
	if h.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("other origin: %v", h)
	}
	any := mustPolicy(t, Config{Origins: []string{"*"}})
	h = http.Header{}
	any.Actual(h, r)
	if h.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("any origin: %v", h)
	}
}
