package caddyauth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/gatehouse-dev/gatehouse/internal/verify"
)

// matchFunc is a request matcher for tests.
type matchFunc func(*http.Request) bool

func (f matchFunc) Match(r *http.Request) bool { return f(r) }

// statusIs matches as the Caddyfile's handle_errors <status> does: on {http.error.status_code}.
func statusIs(status int) caddyhttp.MatcherSet {
	return caddyhttp.MatcherSet{matchFunc(func(r *http.Request) bool {
		v, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer).Get("http.error.status_code")
		return v == status
	})}
}

func hostIs(host string) caddyhttp.MatcherSet {
	return caddyhttp.MatcherSet{matchFunc(func(r *http.Request) bool { return r.Host == host })}
}

type nopHandler struct{}

func (nopHandler) ServeHTTP(http.ResponseWriter, *http.Request, caddyhttp.Handler) error { return nil }

// site is the error route the Caddyfile makes of a site's handle_errors blocks: a host matcher,
// a subroute, and in it one route per block, each a subroute behind its status matcher.
func site(host string, statuses ...int) caddyhttp.Route {
	var inner caddyhttp.RouteList
	for _, st := range statuses {
		rt := caddyhttp.Route{Handlers: []caddyhttp.MiddlewareHandler{&caddyhttp.Subroute{Routes: caddyhttp.RouteList{{Handlers: []caddyhttp.MiddlewareHandler{nopHandler{}}}}}}}
		if st != 0 {
			rt.MatcherSets = caddyhttp.MatcherSets{statusIs(st)}
		}
		inner = append(inner, rt)
	}
	return caddyhttp.Route{
		MatcherSets: caddyhttp.MatcherSets{hostIs(host)},
		Handlers:    []caddyhttp.MiddlewareHandler{&caddyhttp.Subroute{Routes: inner}},
	}
}

// TestHasErrorRoutes: the refusal goes to handle_errors only when a route there matches this
// request with this status; an error route of another site, or for another status, leaves
// jwt_auth's own answer alone.
func TestHasErrorRoutes(t *testing.T) {
	tests := []struct {
		name   string
		routes caddyhttp.RouteList
		host   string
		status int
		want   bool
	}{
		{"no error routes", nil, "a.test", 401, false},
		{"a route without matchers", caddyhttp.RouteList{{}}, "a.test", 401, true},
		{"another site's handle_errors", caddyhttp.RouteList{site("b.test", 0)}, "a.test", 401, false},
		{"another site's handle_errors 404", caddyhttp.RouteList{site("b.test", 404)}, "a.test", 401, false},
		{"this site's handle_errors 404", caddyhttp.RouteList{site("a.test", 404)}, "a.test", 401, false},
		{"this site's handle_errors 404 for a 404", caddyhttp.RouteList{site("a.test", 404)}, "a.test", 404, true},
		{"this site's handle_errors 401", caddyhttp.RouteList{site("b.test", 404), site("a.test", 404, 401)}, "a.test", 401, true},
		{"this site's handle_errors", caddyhttp.RouteList{site("b.test", 404), site("a.test", 0)}, "a.test", 403, true},
		{"an empty subroute", caddyhttp.RouteList{{Handlers: []caddyhttp.MiddlewareHandler{&caddyhttp.Subroute{}}}}, "a.test", 401, false},
		{"a subroute and a handler", caddyhttp.RouteList{{Handlers: []caddyhttp.MiddlewareHandler{&caddyhttp.Subroute{}, nopHandler{}}}}, "a.test", 401, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := &caddyhttp.Server{Errors: &caddyhttp.HTTPErrorConfig{Routes: tt.routes}}
			repl := caddy.NewReplacer()
			r := httptest.NewRequest(http.MethodGet, "http://"+tt.host+"/", nil)
			r = caddyhttp.PrepareRequest(r, repl, httptest.NewRecorder(), srv)
			if got := hasErrorRoutes(r, tt.status); got != tt.want {
				t.Errorf("hasErrorRoutes = %v, want %v", got, tt.want)
			}
			// The error placeholders are put back as they were: none.
			for _, k := range errorPlaceholders {
				if v, ok := repl.Get(k); ok {
					t.Errorf("{%s} = %v left behind", k, v)
				}
			}
		})
	}

	t.Run("placeholders kept", func(t *testing.T) {
		srv := &caddyhttp.Server{Errors: &caddyhttp.HTTPErrorConfig{Routes: caddyhttp.RouteList{site("a.test", 404)}}}
		repl := caddy.NewReplacer()
		r := caddyhttp.PrepareRequest(httptest.NewRequest(http.MethodGet, "http://a.test/", nil), repl, httptest.NewRecorder(), srv)
		repl.Set("http.error.status_code", 502)
		if hasErrorRoutes(r, 401) {
			t.Error("a 404 route handles a 401")
		}
		if v, _ := repl.Get("http.error.status_code"); v != 502 {
			t.Errorf("{http.error.status_code} = %v, want 502 as before", v)
		}
	})

	// Caddy runs the error routes on the original method and URI, as the client sent them.
	t.Run("original request", func(t *testing.T) {
		orig := caddyhttp.MatcherSet{matchFunc(func(r *http.Request) bool { return r.URL.Path == "/app/x" && r.Method == http.MethodPost })}
		srv := &caddyhttp.Server{Errors: &caddyhttp.HTTPErrorConfig{Routes: caddyhttp.RouteList{{MatcherSets: caddyhttp.MatcherSets{orig}}}}}
		r := caddyhttp.PrepareRequest(httptest.NewRequest(http.MethodPost, "http://a.test/app/x", nil), caddy.NewReplacer(), httptest.NewRecorder(), srv)
		r.URL.Path, r.Method = "/x", http.MethodGet // handle_path /app/*, method GET
		if !hasErrorRoutes(r, 401) {
			t.Error("matchers saw the rewritten request")
		}
		if r.URL.Path != "/x" || r.Method != http.MethodGet {
			t.Errorf("the request was changed: %s %s", r.Method, r.URL.Path)
		}
	})
}

// TestRespondTwoSites: site A's refusal keeps its JSON body when only site B has handle_errors.
func TestRespondTwoSites(t *testing.T) {
	j := provision(t, &JWTAuth{Secret: testSecret})
	srv := &caddyhttp.Server{Errors: &caddyhttp.HTTPErrorConfig{Routes: caddyhttp.RouteList{site("b.test", 404)}}}
	s := serve(j, httptest.NewRequest(http.MethodGet, "http://a.test/", nil), srv)
	if s.err != nil || s.rec.Code != http.StatusUnauthorized || s.rec.Body.String() != string(verify.BodyMissing) {
		t.Fatalf("got %v, %d %q; want 401 with the JSON body", s.err, s.rec.Code, s.rec.Body)
	}
	srv.Errors.Routes = caddyhttp.RouteList{site("b.test", 404), site("a.test", 401)}
	s = serve(j, httptest.NewRequest(http.MethodGet, "http://a.test/", nil), srv)
	var he caddyhttp.HandlerError
	if !errors.As(s.err, &he) || he.StatusCode != http.StatusUnauthorized || s.rec.Body.Len() != 0 {
		t.Fatalf("got %v, body %q; want the 401 handed to handle_errors", s.err, s.rec.Body)
	}
}

// TestRefuseBadHeaderWhenOptional: on an optional route a token header that is present but not
// "Bearer <token>" is refused, never passed on as an anonymous request (an upstream might read
// it as a token nobody checked); an absent or empty one passes anonymously.
func TestRefuseBadHeaderWhenOptional(t *testing.T) {
	j := provision(t, &JWTAuth{Secret: testSecret, Optional: true})
	tok := hsToken(`"sub":"alice"`)
	for _, tc := range []struct {
		name, value string
		status      int
		challenge   string
		body        []byte
		reason      verify.Reason
	}{
		{"tab after the scheme", "Bearer\t" + tok, 401, `Bearer realm="api", error="invalid_token", error_description="`, verify.BodyInvalid, verify.ReasonMalformed},
		{"no token", "Bearer", 401, `Bearer realm="api", error="invalid_token", error_description="`, verify.BodyInvalid, verify.ReasonMalformed},
		{"two tokens", "Bearer " + tok + " " + tok, 401, `Bearer realm="api", error="invalid_token", error_description="`, verify.BodyInvalid, verify.ReasonMalformed},
		{"another scheme", "Basic YWxpY2U6cHc=", 401, `Bearer realm="api"`, verify.BodyMissing, verify.ReasonMissing},
		{"scheme run into the token", "Bearer" + tok, 401, `Bearer realm="api"`, verify.BodyMissing, verify.ReasonMissing},
		{"empty", "", 204, "", nil, ""},
		{"absent", "-", 204, "", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tc.value != "-" {
				r.Header["Authorization"] = []string{tc.value}
			}
			s := serve(j, r, nil)
			if s.err != nil || s.rec.Code != tc.status {
				t.Fatalf("got %v, %d; want %d", s.err, s.rec.Code, tc.status)
			}
			if tc.status == 204 {
				if !s.nextCalled {
					t.Error("next was not called")
				}
				return
			}
			if s.nextCalled {
				t.Fatal("next was called")
			}
			if got := s.rec.Header().Get("WWW-Authenticate"); !strings.HasPrefix(got, tc.challenge) ||
				!strings.HasSuffix(tc.challenge, `="`) && got != tc.challenge {
				t.Errorf("WWW-Authenticate %q, want %q", got, tc.challenge)
			}
			if s.rec.Body.String() != string(tc.body) {
				t.Errorf("body %q", s.rec.Body)
			}
			if got := s.placeholder("http.auth.jwt.error"); got != string(tc.reason) {
				t.Errorf("{http.auth.jwt.error} = %q, want %q", got, tc.reason)
			}
		})
	}
}
