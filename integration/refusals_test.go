package integration

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// require rules answer 403, a second token 400, a CORS preflight passes without a token.
func TestRefusalsAndPassThrough(t *testing.T) {
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

		{"CORS preflight passes without a token", "OPTIONS", "/", []string{"Origin: https://app.example", "Access-Control-Request-Method: POST"},
			200, "ok {http.auth.user.id}", ""}, // no user: the placeholder is left unset
		{"OPTIONS that is not a preflight needs a token", "OPTIONS", "/", []string{"Origin: https://app.example"},
			401, bodyMissing, `Bearer realm="api"`},

		{"oversized token", "GET", "/", []string{bearer(strings.Repeat("a", 9000))},
			401, bodyInvalid, `Bearer realm="api", error="invalid_token"`},
		{"oversized signed token", "GET", "/", []string{bearer(tok(jwt.MapClaims{"sub": "alice", "pad": strings.Repeat("p", 9000)}))},
			401, bodyInvalid, `Bearer realm="api", error="invalid_token"`},
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

	t.Run("huge header is a 4xx", func(t *testing.T) {
		resp := get(t, srv.URL+"/", bearer(strings.Repeat("a", 200<<10)))
		if resp.Status < 400 || resp.Status > 499 {
			t.Errorf("status = %d, want 4xx", resp.Status)
		}
	})
}

// Hostile tokens: every one is refused with a 4xx, never a 5xx, and Caddy keeps serving.
func TestHostileTokens(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ecPEM := writePEM(t, dir, "ec.pem", &ecKey.PublicKey)
	srv := startCaddy(t, `
	handle /hs/* {
		jwt_auth {
			secret `+testSecret+`
		}
		respond "hs {http.auth.user.id}"
	}
	handle /es/* {
		jwt_auth {
			public_key `+ecPEM+`
		}
		respond "es {http.auth.user.id}"
	}`)

	now := time.Now()
	exp := now.Add(5 * time.Minute).Unix()
	hsHeader := `{"alg":"HS256","typ":"JWT"}`
	payload := fmt.Sprintf(`{"sub":"alice","exp":%d,"token_type":"access"}`, exp)
	good := rawHS256(testSecret, hsHeader, payload)
	parts := strings.Split(good, ".")
	attacker := mustRSA(2048)
	attackerJWK := jwkOf(t, "attacker", &attacker.PublicKey)

	esHeader := `{"alg":"ES256","typ":"JWT"}`
	esGood := rawES256(t, esHeader, payload, false)

	padded := func(s string) string { return base64.URLEncoding.EncodeToString([]byte(s)) }
	paddedInput := padded(hsHeader) + "." + padded(payload)
	// Non-canonical base64: the signature's last character carries two unused bits; setting them
	// changes the text but not the decoded bytes a lenient decoder would see.
	sig := parts[2]
	last := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", sig[len(sig)-1])
	nonCanonical := parts[0] + "." + parts[1] + "." + sig[:len(sig)-1] +
		string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last|1])

	tests := []struct {
		name  string
		path  string
		token string
	}{
		{"garbage", "/hs/", "garbage"},
		{"two segments", "/hs/", parts[0] + "." + parts[1]},
		{"four segments", "/hs/", good + ".e30"},
		{"five segments (JWE shape)", "/hs/", good + ".e30.e30"},
		{"empty segments", "/hs/", ".."},
		{"padded base64", "/hs/", paddedInput + "." + base64.URLEncoding.EncodeToString(hmacSum(testSecret, paddedInput))},
		{"non-canonical base64 signature", "/hs/", nonCanonical},
		{"space inside", "/hs/", parts[0] + ". " + parts[1] + "." + parts[2]},
		{"alg none", "/hs/", b64(`{"alg":"none","typ":"JWT"}`) + "." + parts[1] + "."},
		{"alg None", "/hs/", b64(`{"alg":"None"}`) + "." + parts[1] + "."},
		{"alg NONE with a signature", "/hs/", b64(`{"alg":"NONE"}`) + "." + parts[1] + "." + parts[2]},
		{"alg none on a public key", "/es/", b64(`{"alg":"none"}`) + "." + parts[1] + "."},
		{"alg lowercase hs256", "/hs/", rawHS256(testSecret, `{"alg":"hs256"}`, payload)},
		{"alg missing", "/hs/", rawHS256(testSecret, `{"typ":"JWT"}`, payload)},
		{"crit header", "/hs/", rawHS256(testSecret, `{"alg":"HS256","crit":["x-policy"],"x-policy":"strict"}`, payload)},
		{"empty crit header", "/hs/", rawHS256(testSecret, `{"alg":"HS256","crit":[]}`, payload)},
		{"jku header with the attacker's key", "/hs/", sign(t, jwt.SigningMethodRS256, attacker, access(jwt.MapClaims{"sub": "alice"}),
			map[string]any{"jku": "http://127.0.0.1:1/jwks.json", "kid": "attacker"})},
		{"jwk header with the attacker's key", "/es/", sign(t, jwt.SigningMethodRS256, attacker, access(jwt.MapClaims{"sub": "alice"}),
			map[string]any{"jwk": attackerJWK})},
		{"kid path injection", "/hs/", sign(t, jwt.SigningMethodHS256, []byte("root:x:0:0:root:/root:/bin/bash\n"),
			access(jwt.MapClaims{"sub": "alice"}), map[string]any{"kid": "../../../../etc/passwd"})},
		{"kid /dev/null with an empty key", "/hs/", sign(t, jwt.SigningMethodHS256, []byte{}, access(jwt.MapClaims{"sub": "alice"}),
			map[string]any{"kid": "/dev/null"})},
		{"ECDSA signature in DER", "/es/", rawES256(t, esHeader, payload, true)},
		{"ECDSA zero signature", "/es/", b64(esHeader) + "." + b64(payload) + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 64))},
		{"HMAC zero signature", "/hs/", parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 32))},
		{"empty signature", "/hs/", parts[0] + "." + parts[1] + "."},
		{"tampered payload", "/hs/", parts[0] + "." + b64(fmt.Sprintf(`{"sub":"admin","exp":%d,"token_type":"access"}`, exp)) + "." + parts[2]},
		{"ES256 header on the HMAC route", "/hs/", esGood},
		{"exp as a string", "/hs/", rawHS256(testSecret, hsHeader, fmt.Sprintf(`{"sub":"alice","exp":"%d"}`, exp))},
		{"exp missing", "/hs/", rawHS256(testSecret, hsHeader, `{"sub":"alice"}`)},
		{"exp overflowing", "/hs/", rawHS256(testSecret, hsHeader, `{"sub":"alice","exp":1e400}`)},
		{"exp null", "/hs/", rawHS256(testSecret, hsHeader, `{"sub":"alice","exp":null}`)},
		{"iat in the future", "/hs/", rawHS256(testSecret, hsHeader, fmt.Sprintf(`{"sub":"alice","exp":%d,"iat":%d}`, exp, now.Add(time.Hour).Unix()))},
		{"nbf an empty object", "/hs/", rawHS256(testSecret, hsHeader, fmt.Sprintf(`{"sub":"alice","exp":%d,"nbf":{}}`, exp))},
		{"iat an array of arrays", "/hs/", rawHS256(testSecret, hsHeader, fmt.Sprintf(`{"sub":"alice","exp":%d,"iat":[[1]]}`, exp))},
		{"nbf in the future", "/hs/", rawHS256(testSecret, hsHeader, fmt.Sprintf(`{"sub":"alice","exp":%d,"nbf":%d}`, exp, now.Add(time.Hour).Unix()))},
		{"duplicate exp", "/hs/", rawHS256(testSecret, hsHeader, fmt.Sprintf(`{"sub":"alice","exp":1,"exp":%d}`, exp))},
		{"exp and EXP", "/hs/", rawHS256(testSecret, hsHeader, fmt.Sprintf(`{"sub":"alice","exp":%d,"EXP":1}`, exp))},
		{"duplicate header alg", "/hs/", rawHS256(testSecret, `{"alg":"none","alg":"HS256"}`, payload)},
		{"payload is an array", "/hs/", rawHS256(testSecret, hsHeader, `[]`)},
		{"payload is null", "/hs/", rawHS256(testSecret, hsHeader, `null`)},
		{"payload is not JSON", "/hs/", rawHS256(testSecret, hsHeader, `sub=alice`)},
		{"trailing data after the payload", "/hs/", rawHS256(testSecret, hsHeader, payload+`{}`)},
		{"header is not an object", "/hs/", rawHS256(testSecret, `"HS256"`, payload)},
	}
	// Controls: the routes accept good tokens, so the refusals below are about the tokens.
	for _, c := range []struct{ path, token, want string }{{"/hs/", good, "hs alice"}, {"/es/", esGood, "es alice"}} {
		if resp := get(t, srv.URL+c.path, bearer(c.token)); resp.Status != http.StatusOK || resp.Body != c.want {
			t.Fatalf("control %s: got %d %q, want 200 %q", c.path, resp.Status, resp.Body, c.want)
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := get(t, srv.URL+tt.path, bearer(tt.token))
			if resp.Status < 400 || resp.Status > 499 {
				t.Fatalf("status = %d, want 4xx; body %q", resp.Status, resp.Body)
			}
			if resp.Status != http.StatusUnauthorized || resp.Body != bodyInvalid {
				t.Errorf("got %d %q, want 401 %q", resp.Status, resp.Body, bodyInvalid)
			}
		})
	}
	// Valid JSON that is merely odd may be accepted or refused, but never crash the server.
	deep := rawHS256(testSecret, hsHeader,
		fmt.Sprintf(`{"sub":"alice","exp":%d,"x":%s%s}`, exp, strings.Repeat("[", 3000), strings.Repeat("]", 3000)))
	if resp := get(t, srv.URL+"/hs/", bearer(deep)); resp.Status != http.StatusOK && resp.Status != http.StatusUnauthorized {
		t.Errorf("deeply nested claim: status = %d, want 200 or 401", resp.Status)
	}
	if !srv.running() {
		t.Fatal("caddy exited")
	}
}
