package integration

import (
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// TestRequireRulesAndTokenPlaces: a valid token that fails a require rule is refused with 403
// and insufficient_scope (a bad one stays 401, in the route's realm); a token is read from the
// places the route names, and one sent in two places is refused with 400 rather than one of
// them chosen; without a cors setting a preflight needs a token like any other request.
// Oversized and malformed tokens: hostile_test.go.
func TestRequireRulesAndTokenPlaces(t *testing.T) {
	t.Parallel()
	srv := startCaddy(t, `
	handle /admin/* {
		jwt_auth {
			secret `+testSecret+`
			require role admin
			require groups staff
			realm admin-area
		}
		respond "admin {http.auth.user.id}"
	}
	handle /multi/* {
		jwt_auth {
			secret `+testSecret+`
			from_header Authorization Bearer
			from_cookie jwt
		}
		respond "multi {http.auth.user.id}"
	}
	handle {
		jwt_auth {
			secret `+testSecret+`
		}
		respond "ok {http.auth.user.id}"
	}`)

	tok := func(extra jwt.MapClaims) string { return hs256(t, access(extra)) }
	alice := tok(jwt.MapClaims{"sub": "alice"})
	tests := []struct {
		name       string
		method     string
		path       string
		headers    []string
		wantStatus int
		wantBody   string
		wantAuth   string // prefix of WWW-Authenticate; "" means no header
	}{
		{"require met", "GET", "/admin/", []string{bearer(tok(jwt.MapClaims{"sub": "root", "role": "admin", "groups": []any{"ops", "staff"}}))},
			200, "admin root", ""},
		{"require unmet: wrong value", "GET", "/admin/", []string{bearer(tok(jwt.MapClaims{"sub": "bob", "role": "user", "groups": []any{"staff"}}))},
			403, bodyPermission, `Bearer realm="admin-area", error="insufficient_scope"`},
		{"require unmet: one of two rules", "GET", "/admin/", []string{bearer(tok(jwt.MapClaims{"sub": "bob", "role": "admin", "groups": []any{"ops"}}))},
			403, bodyPermission, `Bearer realm="admin-area", error="insufficient_scope"`},
		{"require unmet: claim missing", "GET", "/admin/", []string{bearer(alice)},
			403, bodyPermission, `Bearer realm="admin-area", error="insufficient_scope"`},
		{"require with a bad token is 401, not 403", "GET", "/admin/", []string{bearer(tamper(alice))},
			401, bodyInvalid, `Bearer realm="admin-area", error="invalid_token"`},
		{"realm in the no-token answer", "GET", "/admin/", nil,
			401, bodyMissing, `Bearer realm="admin-area"`},

		{"token in the cookie", "GET", "/multi/", []string{"Cookie: jwt=" + alice},
			200, "multi alice", ""},
		{"two Authorization headers", "GET", "/multi/", []string{bearer(alice), bearer(alice)},
			400, bodyMultiple, `Bearer realm="api", error="invalid_request"`},
		{"header and cookie", "GET", "/multi/", []string{bearer(alice), "Cookie: jwt=" + alice},
			400, bodyMultiple, `Bearer realm="api", error="invalid_request"`},
		{"two Authorization headers by default", "GET", "/", []string{bearer(alice), bearer(alice)},
			400, bodyMultiple, `Bearer realm="api", error="invalid_request"`},

		{"CORS preflight needs a token without a cors setting", "OPTIONS", "/", []string{"Origin: https://app.example", "Access-Control-Request-Method: POST"},
			401, bodyMissing, `Bearer realm="api"`},
		{"OPTIONS that is not a preflight needs a token", "OPTIONS", "/", []string{"Origin: https://app.example"},
			401, bodyMissing, `Bearer realm="api"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := do(t, tt.method, srv.URL+tt.path, tt.headers...)
			if resp.Status != tt.wantStatus || resp.Body != tt.wantBody {
				t.Fatalf("got %d %q, want %d %q", resp.Status, resp.Body, tt.wantStatus, tt.wantBody)
			}
			gotAuth := resp.Header.Get("WWW-Authenticate")
			if tt.wantAuth == "" && gotAuth != "" || !strings.HasPrefix(gotAuth, tt.wantAuth) {
				t.Errorf("WWW-Authenticate = %q, want prefix %q", gotAuth, tt.wantAuth)
			}
		})
	}
}
