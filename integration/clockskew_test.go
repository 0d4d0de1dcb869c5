package integration

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestClockSkewLeeway: with `leeway 30s`, a token whose exp passed 20 s ago, or whose nbf or iat
// is 20 s ahead (an issuer's clock off by that much), is accepted; 60 s is beyond the leeway and
// refused with simplejwt's 401 and the reason in WWW-Authenticate. The same tokens on a route
// without leeway show that the leeway, not slack elsewhere, is what admits them.
func TestClockSkewLeeway(t *testing.T) {
	t.Parallel()
	srv := startCaddy(t, `
	handle /skew/* {
		jwt_auth {
			secret `+testSecret+`
			leeway 30s
		}
		respond "skew {http.auth.user.id}"
	}
	handle /strict/* {
		jwt_auth {
			secret `+testSecret+`
		}
		respond "strict {http.auth.user.id}"
	}`)

	// The claims are whole seconds: 20 s and 60 s leave 10 s or more either side of the 30 s
	// boundary for the time the test takes.
	now := time.Now()
	at := func(d time.Duration) int64 { return now.Add(d).Unix() }
	tok := func(claims jwt.MapClaims) string { return hs256(t, access(claims)) }
	const (
		expired     = `Bearer realm="api", error="invalid_token", error_description="token has expired"`
		notYetValid = `Bearer realm="api", error="invalid_token", error_description="token is not valid yet (nbf)"`
		issuedLater = `Bearer realm="api", error="invalid_token", error_description="token was issued in the future (iat)"`
	)
	tests := []struct {
		name       string
		token      string
		skewAuth   string // WWW-Authenticate on /skew/; "" means the token is accepted there
		strictAuth string // the same on /strict/
	}{
		{"exp 20s ago", tok(jwt.MapClaims{"sub": "alice", "iat": at(-5 * time.Minute), "exp": at(-20 * time.Second)}), "", expired},
		{"nbf 20s ahead", tok(jwt.MapClaims{"sub": "alice", "nbf": at(20 * time.Second)}), "", notYetValid},
		{"iat 20s ahead", tok(jwt.MapClaims{"sub": "alice", "iat": at(20 * time.Second)}), "", issuedLater},
		{"nbf and iat 20s ahead", tok(jwt.MapClaims{"sub": "alice", "nbf": at(20 * time.Second), "iat": at(20 * time.Second)}), "", notYetValid},
		{"exp 60s ago", tok(jwt.MapClaims{"sub": "alice", "iat": at(-5 * time.Minute), "exp": at(-60 * time.Second)}), expired, expired},
		{"nbf 60s ahead", tok(jwt.MapClaims{"sub": "alice", "nbf": at(60 * time.Second)}), notYetValid, notYetValid},
		{"iat 60s ahead", tok(jwt.MapClaims{"sub": "alice", "iat": at(60 * time.Second)}), issuedLater, issuedLater},
		{"exp 60s ago but nbf and iat 20s ahead", tok(jwt.MapClaims{"sub": "alice", "nbf": at(20 * time.Second),
			"iat": at(20 * time.Second), "exp": at(-60 * time.Second)}), expired, expired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, route := range []struct{ path, wantAuth string }{{"/skew/", tt.skewAuth}, {"/strict/", tt.strictAuth}} {
				resp := get(t, srv.URL+route.path, bearer(tt.token))
				gotAuth := resp.Header.Get("WWW-Authenticate")
				if route.wantAuth == "" {
					want := strings.Trim(route.path, "/") + " alice"
					if resp.Status != http.StatusOK || resp.Body != want || gotAuth != "" {
						t.Errorf("%s: got %d %q (WWW-Authenticate %q), want 200 %q", route.path, resp.Status, resp.Body, gotAuth, want)
					}
					continue
				}
				if resp.Status != http.StatusUnauthorized || resp.Body != bodyInvalid {
					t.Errorf("%s: got %d %q, want 401 %q", route.path, resp.Status, resp.Body, bodyInvalid)
				}
				if gotAuth != route.wantAuth {
					t.Errorf("%s: WWW-Authenticate = %q, want %q", route.path, gotAuth, route.wantAuth)
				}
			}
		})
	}
}
