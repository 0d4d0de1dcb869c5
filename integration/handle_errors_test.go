package integration

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// With handle_errors routes, jwt_auth hands the failure to them: the status, the reason in
// {http.auth.jwt.error}, and WWW-Authenticate already set, so a site can restyle or redirect.
func TestHandleErrors(t *testing.T) {
	t.Parallel()
	srv := startCaddy(t, `
	handle /admin/* {
		jwt_auth {
			secret `+testSecret+`
			require role admin
		}
		respond "admin ok"
	}
	handle {
		jwt_auth {
			secret `+testSecret+`
		}
		respond "ok {http.auth.user.id}"
	}
	handle_errors 401 {
		@browser header Accept *text/html*
		redir @browser /login?reason={http.auth.jwt.error} 302
		respond "401 reason={http.auth.jwt.error} described={http.auth.jwt.error_description}" 401
	}
	handle_errors {
		respond "reason={http.auth.jwt.error}" {http.error.status_code}
	}`)

	now := time.Now()
	alice := hs256(t, access(jwt.MapClaims{"sub": "alice"}))
	tests := []struct {
		name       string
		path       string
		headers    []string
		wantStatus int
		wantBody   string // prefix
		wantAuth   string // prefix of WWW-Authenticate
	}{
		{"valid token", "/", []string{bearer(alice)}, 200, "ok alice", ""},
		{"no token", "/", nil, 401, "401 reason=missing_token described=", `Bearer realm="api"`},
		{"expired", "/", []string{bearer(hs256(t, access(jwt.MapClaims{"exp": now.Add(-time.Minute).Unix()})))},
			401, "401 reason=token_expired described=", `Bearer realm="api", error="invalid_token"`},
		{"refresh token", "/", []string{bearer(hs256(t, access(jwt.MapClaims{"token_type": "refresh"})))},
			401, "401 reason=wrong_token_type described=", `Bearer realm="api", error="invalid_token"`},
		{"bad signature", "/", []string{bearer(tamper(alice))},
			401, "401 reason=invalid_signature described=", `Bearer realm="api", error="invalid_token"`},
		{"require unmet", "/admin/", []string{bearer(alice)},
			403, "reason=insufficient_scope", `Bearer realm="api", error="insufficient_scope"`},
		{"two tokens", "/", []string{bearer(alice), bearer(alice)},
			400, "reason=multiple_tokens", `Bearer realm="api", error="invalid_request"`},
		{"browser without a token is redirected", "/", []string{"Accept: text/html,application/xhtml+xml"},
			302, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := get(t, srv.URL+tt.path, tt.headers...)
			if resp.Status != tt.wantStatus || !strings.HasPrefix(resp.Body, tt.wantBody) {
				t.Fatalf("got %d %q, want %d %q...", resp.Status, resp.Body, tt.wantStatus, tt.wantBody)
			}
			if strings.HasPrefix(tt.wantBody, "401 ") && strings.HasSuffix(resp.Body, "described=") {
				t.Errorf("body %q: {http.auth.jwt.error_description} is empty", resp.Body)
			}
			if got := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, tt.wantAuth) {
				t.Errorf("WWW-Authenticate = %q, want prefix %q", got, tt.wantAuth)
			}
			if tt.wantStatus == http.StatusFound {
				if got, want := resp.Header.Get("Location"), "/login?reason=missing_token"; got != want {
					t.Errorf("Location = %q, want %q", got, want)
				}
			}
		})
	}
}
