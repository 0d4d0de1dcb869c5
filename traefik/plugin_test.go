package gatehouse

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The behaviour of the plugin on tokens is tested in the yaegitest module, interpreted as
// Traefik runs it and compiled; these tests cover what needs the package's insides.

// TestInternalErrorRefuses checks that a fault inside the plugin (here a middleware whose
// verifier is missing) is a 500 and never a request passed on, and that a panic of the next
// handler is not taken for one of the plugin's (Traefik's own recovery handles it).
func TestInternalErrorRefuses(t *testing.T) {
	called := false
	m := &Middleware{next: http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }), name: "broken", setup: &setup{}}
	r := httptest.NewRequest(http.MethodGet, "http://x/", nil)
	r.Header.Set("Authorization", "Bearer a.b.c")
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, r)
	if rec.Code != http.StatusInternalServerError || called || !strings.Contains(rec.Body.String(), "internal_error") {
		t.Errorf("broken middleware: %d %q, next called %v", rec.Code, rec.Body, called)
	}

	h, err := New(context.Background(), http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("upstream") }), &Config{Secret: strings.Repeat("k", 32), Optional: true}, "p")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if v := recover(); v != "upstream" {
			t.Errorf("the next handler's panic became %v", v)
		}
	}()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "http://x/", nil))
}

// TestNilConfig checks that New without a configuration fails for want of keys, not a panic.
func TestNilConfig(t *testing.T) {
	if _, err := New(context.Background(), http.NotFoundHandler(), nil, "n"); err == nil || !strings.Contains(err.Error(), "no keys") {
		t.Errorf("err = %v", err)
	}
}
