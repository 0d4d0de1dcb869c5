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
// with `leeway 0` show that the leeway, not slack elsewhere, is what admits them, and a route
// without the setting has the default of 60 s: 20 s passes, 90 s does not.
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
			leeway 0
		}
		respond "strict {http.auth.user.id}"
	}
	handle /default/* {
		jwt_auth {
			secret `+testSecret+`
		}
		respond "default {http.auth.user.id}"
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
		// An issuer a few seconds fast: refused only with leeway 0.
		{"iat 5s ahead", tok(jwt.MapClaims{"sub": "alice", "iat": at(5 * time.Second)}), "", issuedLater},
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
	// The default route: within 60 s of skew as /skew/ is within 30 s, and 90 s refused.
	defaults := map[string]string{
		"exp 90s ago": expired, "nbf 90s ahead": notYetValid, "iat 90s ahead": issuedLater,
	}
	tests = append(tests, []struct {
		name, token, skewAuth, strictAuth string
	}{
		{"exp 90s ago", tok(jwt.MapClaims{"sub": "alice", "iat": at(-5 * time.Minute), "exp": at(-90 * time.Second)}), expired, expired},
		{"nbf 90s ahead", tok(jwt.MapClaims{"sub": "alice", "nbf": at(90 * time.Second)}), notYetValid, notYetValid},
		{"iat 90s ahead", tok(jwt.MapClaims{"sub": "alice", "iat": at(90 * time.Second)}), issuedLater, issuedLater},
	}...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// 20 s and less is within the default too; 60 s is at its boundary (the claims are
			// whole seconds), so only the clear cases are checked on /default/.
			defaultAuth, checkDefault := defaults[tt.name]
			if !checkDefault && tt.skewAuth == "" {
				defaultAuth, checkDefault = "", true
			}
			routes := []struct{ path, wantAuth string }{{"/skew/", tt.skewAuth}, {"/strict/", tt.strictAuth}}
			if checkDefault {
				routes = append(routes, struct{ path, wantAuth string }{"/default/", defaultAuth})
			}
			for _, route := range routes {
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
