package integration

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// upstream is an app server behind reverse_proxy that records what reaches it.
type upstream struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string // "METHOD path body"
}

func newUpstream(t *testing.T) *upstream {
	t.Helper()
	u := new(upstream)
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.seen = append(u.seen, r.Method+" "+r.URL.Path+" "+string(body)+" auth="+r.Header.Get("Authorization"))
		u.mu.Unlock()
		if r.Method == http.MethodOptions {
			w.Header().Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
			w.WriteHeader(http.StatusNoContent)
			return
		}
		_, _ = io.WriteString(w, "upstream")
	}))
	t.Cleanup(u.Close)
	return u
}

// requests returns what reached the upstream so far.
func (u *upstream) requests() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.seen...)
}

// preflightHeaders are a browser's CORS preflight headers from origin.
func preflightHeaders(origin string) []string {
	return []string{"Origin: " + origin, "Access-Control-Request-Method: POST", "Access-Control-Request-Headers: authorization, content-type"}
}

// TestCORSPreflightNeedsAToken: a CORS preflight is no way past jwt_auth. Without a cors setting
// it is refused like any request without a token, so neither a respond nor a reverse_proxy
// upstream behind jwt_auth ever answers one, body or not.
func TestCORSPreflightNeedsAToken(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	srv := startCaddy(t, `
	@protected path /admin/* /api/*
	jwt_auth @protected {
		secret `+testSecret+`
	}
	respond /admin/* "secret"
	reverse_proxy /api/* `+strings.TrimPrefix(up.URL, "http://"))

	r := do(t, http.MethodOptions, srv.URL+"/admin/x", "Origin: x", "Access-Control-Request-Method: x")
	if r.Status != http.StatusUnauthorized || strings.Contains(r.Body, "secret") {
		t.Errorf("preflight to a respond behind jwt_auth: %d %q, want 401 without the secret", r.Status, r.Body)
	}
	r = sendBody(t, http.MethodOptions, srv.URL+"/api/items", `{"delete":"everything"}`,
		append(preflightHeaders("https://evil.test"), "Content-Type: application/json")...)
	if r.Status != http.StatusUnauthorized {
		t.Errorf("preflight with a JSON body to reverse_proxy: %d, want 401", r.Status)
	}
	if got := up.requests(); len(got) != 0 {
		t.Errorf("the upstream was reached without a token: %q", got)
	}
}

// TestCORSAnsweredByJWTAuth: with cors origins, jwt_auth answers the preflights of allowed
// origins itself (nothing reaches the upstream), refuses others, and marks its answers to an
// allowed origin, refusals included, so a single-page app can read them.
func TestCORSAnsweredByJWTAuth(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	srv := startCaddy(t, `
	jwt_auth /api/* {
		secret `+testSecret+`
		cors {
			origins https://app.test https://*.home.test
			credentials
		}
	}
	reverse_proxy /api/* `+strings.TrimPrefix(up.URL, "http://"))

	r := do(t, http.MethodOptions, srv.URL+"/api/items", preflightHeaders("https://grafana.home.test")...)
	if r.Status != http.StatusNoContent || r.Header.Get("Access-Control-Allow-Origin") != "https://grafana.home.test" ||
		r.Header.Get("Access-Control-Allow-Credentials") != "true" || !strings.Contains(r.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("allowed preflight: %d %v", r.Status, r.Header)
	}
	r = do(t, http.MethodOptions, srv.URL+"/api/items", preflightHeaders("https://evil.test")...)
	if r.Status != http.StatusForbidden || r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from another origin: %d %v", r.Status, r.Header)
	}
	r = sendBody(t, http.MethodOptions, srv.URL+"/api/items", `{"x":1}`, preflightHeaders("https://app.test")...)
	if r.Status != http.StatusNoContent {
		t.Errorf("allowed preflight with a body: %d", r.Status)
	}
	if got := up.requests(); len(got) != 0 {
		t.Errorf("a preflight reached the upstream: %q", got)
	}

	r = get(t, srv.URL+"/api/items", "Origin: https://app.test")
	if r.Status != http.StatusUnauthorized || r.Header.Get("Access-Control-Allow-Origin") != "https://app.test" {
		t.Errorf("refusal to an allowed origin: %d %v", r.Status, r.Header)
	}
	r = get(t, srv.URL+"/api/items", "Origin: https://app.test", bearer(hs256(t, access(jwt.MapClaims{"sub": "alice"}))))
	if r.Status != http.StatusOK || r.Body != "upstream" || r.Header.Get("Access-Control-Allow-Origin") != "https://app.test" {
		t.Errorf("request with a token from an allowed origin: %d %q %v", r.Status, r.Body, r.Header)
	}
}

// TestCORSPassthrough: with cors passthrough the upstream answers preflights, which reach it
// without credentials; a preflight with a body is refused, and any other request still needs a
// token.
func TestCORSPassthrough(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	srv := startCaddy(t, `
	jwt_auth /api/* {
		secret `+testSecret+`
		cors passthrough
	}
	reverse_proxy /api/* `+strings.TrimPrefix(up.URL, "http://"))

	r := do(t, http.MethodOptions, srv.URL+"/api/items", append(preflightHeaders("https://app.test"), "Authorization: Bearer forged")...)
	if r.Status != http.StatusNoContent || r.Header.Get("Access-Control-Allow-Origin") != "https://app.test" {
		t.Errorf("passed-through preflight: %d %v", r.Status, r.Header)
	}
	r = sendBody(t, http.MethodOptions, srv.URL+"/api/items", `{"x":1}`, preflightHeaders("https://app.test")...)
	if r.Status != http.StatusBadRequest {
		t.Errorf("preflight with a body: %d, want 400", r.Status)
	}
	r = sendBody(t, http.MethodOptions, srv.URL+"/api/items", "", "Origin: https://app.test")
	if r.Status != http.StatusUnauthorized {
		t.Errorf("OPTIONS that is no preflight: %d, want 401", r.Status)
	}
	got := up.requests()
	if len(got) != 1 || got[0] != "OPTIONS /api/items  auth=" {
		t.Errorf("upstream saw %q, want one bodiless preflight without credentials", got)
	}
}

// TestCORSIssuer: with cors, the issuer answers preflights to its endpoints (not 405) and marks
// its answers, so a single-page app on another origin can log in with JSON; without cors a
// preflight is still 405.
func TestCORSIssuer(t *testing.T) {
	t.Parallel()
	srv := startCaddy(t, `
	jwt_issuer /api/token/* {
		name spa
		user alice `+aliceHash+`
		cors {
			origins https://app.test
		}
	}
	jwt_issuer /plain/token/* {
		user alice `+aliceHash+`
	}`)
	r := do(t, http.MethodOptions, srv.URL+"/api/token/", preflightHeaders("https://app.test")...)
	if r.Status != http.StatusNoContent || r.Header.Get("Access-Control-Allow-Origin") != "https://app.test" ||
		!strings.Contains(r.Header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Errorf("preflight to the login endpoint: %d %v", r.Status, r.Header)
	}
	r = sendBody(t, http.MethodPost, srv.URL+"/api/token/", credentials("alice", "alice-pw"),
		"Content-Type: application/json", "Origin: https://app.test")
	if r.Status != http.StatusOK || r.Header.Get("Access-Control-Allow-Origin") != "https://app.test" || !strings.Contains(r.Body, `"access"`) {
		t.Errorf("login from the allowed origin: %d %v %s", r.Status, r.Header, r.Body)
	}
	r = do(t, http.MethodOptions, srv.URL+"/api/token/refresh/", preflightHeaders("https://evil.test")...)
	if r.Status != http.StatusForbidden || r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from another origin: %d %v", r.Status, r.Header)
	}
	r = do(t, http.MethodOptions, srv.URL+"/plain/token/", preflightHeaders("https://app.test")...)
	if r.Status != http.StatusMethodNotAllowed {
		t.Errorf("preflight to an issuer without cors: %d, want 405", r.Status)
	}
}
