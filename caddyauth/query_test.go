package caddyauth

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// TestQueryTokenRemoved: a from_query token is taken out of the request passed on (URL,
// RequestURI, the {uri} and {query} placeholders) and out of Caddy's copy of the original URL,
// which Caddy puts back before handle_errors runs; the other parameters stay as sent.
func TestQueryTokenRemoved(t *testing.T) {
	j := provision(t, &JWTAuth{Secret: testSecret, Optional: true, Sources: []TokenSource{{From: "query", Name: "access_token"}}})
	tok := hsToken(`"sub":"alice"`)
	for _, tc := range []struct {
		name, target string
		passed       bool
	}{
		{"valid token", "/api/x?a=%2F1&access_token=" + tok + "&b=2", true},
		{"no token", "/api/x?a=%2F1&access_token=&b=2", true},
		{"bad token", "/api/x?a=%2F1&access_token=" + tok + "x&b=2", false},
		{"twice", "/api/x?a=%2F1&access_token=" + tok + "&b=2&access_token=" + tok, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const want = "/api/x?a=%2F1&b=2"
			repl := caddy.NewReplacer()
			rec := httptest.NewRecorder()
			r := caddyhttp.PrepareRequest(httptest.NewRequest(http.MethodGet, tc.target, nil), repl, rec, new(caddyhttp.Server))
			var seen *http.Request
			err := j.ServeHTTP(rec, r, caddyhttp.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) error {
				seen = r
				return nil
			}))
			if err != nil || (seen != nil) != tc.passed {
				t.Fatalf("err %v, passed on %v; want passed on %v", err, seen != nil, tc.passed)
			}
			if seen != nil {
				if seen.RequestURI != want || seen.URL.RequestURI() != want {
					t.Errorf("passed on RequestURI %q, URL %q; want %q", seen.RequestURI, seen.URL.RequestURI(), want)
				}
				if got := repl.ReplaceAll("{http.request.uri}|{http.request.uri.query}", ""); got != want+"|a=%2F1&b=2" {
					t.Errorf("placeholders %q", got)
				}
			}
			orig, _ := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request)
			if got := orig.URL.RequestURI(); got != want {
				t.Errorf("original URL %q, want %q", got, want)
			}
		})
	}
}

// TestQueryTokenKeptWithoutFromQuery: without from_query the query string is not touched.
func TestQueryTokenKeptWithoutFromQuery(t *testing.T) {
	j := provision(t, &JWTAuth{Secret: testSecret, Optional: true})
	const target = "/api/x?access_token=abc&b=2"
	s := serve(j, httptest.NewRequest(http.MethodGet, target, nil), nil)
	if !s.nextCalled {
		t.Fatal("next was not called")
	}
	if got := s.repl.ReplaceAll("{http.request.uri}", ""); got != target {
		t.Errorf("{http.request.uri} = %q, want %q", got, target)
	}
}
