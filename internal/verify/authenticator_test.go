package verify

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse/internal/keys"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// Every supported algorithm verifies a golang-jwt token with the matching key, and refuses the
// same token with one signature bit flipped.
func TestVerifyAlgorithms(t *testing.T) {
	m := keyMaterial(t)
	all := []*keys.Key{m.hs, m.rs, m.es256, m.es384, m.es512, m.eddsa}
	v := newVerifier(t, Policy{}, all...)
	for _, tc := range []struct {
		method jwt.SigningMethod
		key    any
	}{
		{jwt.SigningMethodHS256, m.secret},
		{jwt.SigningMethodHS384, m.secret},
		{jwt.SigningMethodHS512, m.secret},
		{jwt.SigningMethodRS256, m.rsa},
		{jwt.SigningMethodRS384, m.rsa},
		{jwt.SigningMethodRS512, m.rsa},
		{jwt.SigningMethodPS256, m.rsa},
		{jwt.SigningMethodPS384, m.rsa},
		{jwt.SigningMethodPS512, m.rsa},
		{jwt.SigningMethodES256, m.p256},
		{jwt.SigningMethodES384, m.p384},
		{jwt.SigningMethodES512, m.p521},
		{jwt.SigningMethodEdDSA, m.ed},
	} {
		t.Run(tc.method.Alg(), func(t *testing.T) {
			raw := signed(t, tc.method, tc.key, "", accessClaims())
			c, err := v.Verify(context.Background(), raw)
			if err != nil {
				t.Fatalf("valid token refused: %v", err)
			}
			if uid, ok := c.Get("user_id"); !ok || uid.Text != "1" {
				t.Errorf("user_id = %+v, %v; want 1", uid, ok)
			}

			dot := strings.LastIndexByte(raw, '.')
			sig, err := base64.RawURLEncoding.DecodeString(raw[dot+1:])
			if err != nil {
				t.Fatal(err)
			}
			sig[len(sig)/2] ^= 1
			bad := raw[:dot+1] + enc(sig)
			_, err = v.Verify(context.Background(), bad)
			checkRefusal(t, err, bad, ReasonSignature)
		})
	}
}

// The classic forgery: an HS256 token whose HMAC secret is the RSA public key (PEM text or DER),
// which anyone has. The RSA key is never an HMAC secret, with or without an HMAC key loaded too.
func TestVerifyKeyConfusion(t *testing.T) {
	m := keyMaterial(t)
	pemBytes, derBytes := publicPEM(m.rsa.Public()), publicDER(m.rsa.Public())
	for _, tc := range []struct {
		name   string
		keys   []*keys.Key
		secret []byte
		alg    jwt.SigningMethod
		want   Reason
	}{
		{"PEM as HS256 secret, RSA key only", []*keys.Key{m.rs}, pemBytes, jwt.SigningMethodHS256, ReasonUnknownKey},
		{"DER as HS256 secret, RSA key only", []*keys.Key{m.rs}, derBytes, jwt.SigningMethodHS256, ReasonUnknownKey},
		{"PEM as HS512 secret, RSA key only", []*keys.Key{m.rs}, pemBytes, jwt.SigningMethodHS512, ReasonUnknownKey},
		{"PEM as HS256 secret, RSA and HMAC keys", []*keys.Key{m.rs, m.hs}, pemBytes, jwt.SigningMethodHS256, ReasonSignature},
		{"DER as HS256 secret, RSA and HMAC keys", []*keys.Key{m.rs, m.hs}, derBytes, jwt.SigningMethodHS256, ReasonSignature},
		{"Ed25519 key bytes as HS256 secret", []*keys.Key{m.eddsa}, []byte(m.ed.Public().(ed25519.PublicKey)), jwt.SigningMethodHS256, ReasonUnknownKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(t, Policy{}, tc.keys...)
			raw := signed(t, tc.alg, tc.secret, "", accessClaims())
			_, err := v.Verify(context.Background(), raw)
			checkRefusal(t, err, raw, tc.want)
		})
	}
}

// alg none is refused in every spelling: without a signature the split fails, with a made-up
// one the alg is refused before any key is looked at.
func TestVerifyNone(t *testing.T) {
	m := keyMaterial(t)
	payload := enc([]byte(jsonClaims(t, accessClaims())))
	for _, policy := range []Policy{{}, {Algorithms: []string{"HS256"}}} {
		v := newVerifier(t, policy, m.hs, m.rs)
		for _, alg := range []string{"none", "None", "NONE", "nOnE"} {
			header := enc([]byte(`{"alg":"` + alg + `","typ":"JWT"}`))
			t.Run(alg+"/empty signature", func(t *testing.T) {
				raw := header + "." + payload + "."
				_, err := v.Verify(context.Background(), raw)
				checkRefusal(t, err, raw, ReasonMalformed)
			})
			t.Run(alg+"/fake signature", func(t *testing.T) {
				raw := header + "." + payload + "." + enc([]byte("signature"))
				_, err := v.Verify(context.Background(), raw)
				checkRefusal(t, err, raw, ReasonAlgorithm)
			})
		}
	}
}

// Algorithm names are exact and the allow-list is enforced, also when a key would verify.
func TestVerifyAlgorithmAllowList(t *testing.T) {
	m := keyMaterial(t)
	payload := jsonClaims(t, accessClaims())
	for _, tc := range []struct {
		name   string
		policy Policy
		raw    func(t *testing.T) string
		want   Reason // "" means accepted
	}{
		{"allowed RS256", Policy{Algorithms: []string{"RS256"}}, func(t *testing.T) string {
			return signed(t, jwt.SigningMethodRS256, m.rsa, "", accessClaims())
		}, ""},
		{"HS256 outside RS256 allow-list", Policy{Algorithms: []string{"RS256"}}, func(t *testing.T) string {
			return signed(t, jwt.SigningMethodHS256, m.secret, "", accessClaims())
		}, ReasonAlgorithm},
		{"PS256 outside RS256 allow-list", Policy{Algorithms: []string{"RS256"}}, func(t *testing.T) string {
			return signed(t, jwt.SigningMethodPS256, m.rsa, "", accessClaims())
		}, ReasonAlgorithm},
		{"lower-case hs256 signed with the secret", Policy{}, func(t *testing.T) string {
			return assemble(t, `{"alg":"hs256"}`, payload, jwt.SigningMethodHS256, m.secret)
		}, ReasonAlgorithm},
		{"lower-case hs256 with the name allowed", Policy{Algorithms: []string{"HS256"}}, func(t *testing.T) string {
			return assemble(t, `{"alg":"hs256"}`, payload, jwt.SigningMethodHS256, m.secret)
		}, ReasonAlgorithm},
		{"alg with trailing space", Policy{}, func(t *testing.T) string {
			return assemble(t, `{"alg":"HS256 "}`, payload, jwt.SigningMethodHS256, m.secret)
		}, ReasonAlgorithm},
		{"unknown alg HS1024", Policy{}, func(t *testing.T) string {
			return assemble(t, `{"alg":"HS1024"}`, payload, jwt.SigningMethodHS512, m.secret)
		}, ReasonAlgorithm},
		{"no allow-list, no key for ES256", Policy{}, func(t *testing.T) string {
			return signed(t, jwt.SigningMethodES256, m.p256, "", accessClaims())
		}, ReasonUnknownKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(t, tc.policy, m.hs, m.rs)
			raw := tc.raw(t)
			_, err := v.Verify(context.Background(), raw)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			checkRefusal(t, err, raw, tc.want)
		})
	}
}

// A crit header is refused (RFC 7515 §4.1.11), even with a valid signature.
func TestVerifyCrit(t *testing.T) {
	m := keyMaterial(t)
	v := newVerifier(t, Policy{}, m.hs)
	payload := jsonClaims(t, accessClaims())
	for _, header := range []string{
		`{"alg":"HS256","crit":["exp"],"exp":1}`,
		`{"alg":"HS256","crit":[]}`,
		`{"alg":"HS256","crit":["` + marker + `"],"` + marker + `":1}`,
	} {
		raw := assemble(t, header, payload, jwt.SigningMethodHS256, m.secret)
		_, err := v.Verify(context.Background(), raw)
		checkRefusal(t, err, raw, ReasonCrit)
	}
}

// kid picks among the configured keys only; a token naming one key but signed by another fails.
func TestVerifyKid(t *testing.T) {
	m := keyMaterial(t)
	a, b := withID(m.rs, "a"), withID(m.rs2, "b")
	v := newVerifier(t, Policy{}, a, b)
	for _, tc := range []struct {
		name string
		kid  string
		key  any
		want Reason
	}{
		{"kid a signed by a", "a", m.rsa, ""},
		{"kid b signed by b", "b", m.rsa2, ""},
		{"kid a signed by b", "a", m.rsa2, ReasonSignature},
		{"kid b signed by a", "b", m.rsa, ReasonSignature},
		{"no kid tries every key", "", m.rsa2, ""},
		{"unknown kid", "c", m.rsa, ReasonUnknownKey},
		{"kid that differs in case", "A", m.rsa, ReasonUnknownKey},
		{"kid that looks like a path", "../../etc/passwd", m.rsa, ReasonUnknownKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := signed(t, jwt.SigningMethodRS256, tc.key, tc.kid, accessClaims())
			_, err := v.Verify(context.Background(), raw)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			checkRefusal(t, err, raw, tc.want)
		})
	}

	// A key without an id is a candidate for any kid.
	anyKid := newVerifier(t, Policy{}, m.rs)
	if _, err := anyKid.Verify(context.Background(), signed(t, jwt.SigningMethodRS256, m.rsa, "whatever", accessClaims())); err != nil {
		t.Errorf("key without id refused a token with a kid: %v", err)
	}
}

// An unknown kid makes a refreshable provider fetch once; a key that arrives is used, and a known
// kid, a token without kid or a bad signature never triggers a fetch.
func TestVerifyRefresh(t *testing.T) {
	m := keyMaterial(t)
	old, rotated := withID(m.rs, "old"), withID(m.rs2, "new")
	type ctxKey struct{}
	ctx := context.WithValue(context.Background(), ctxKey{}, "request")

	for _, tc := range []struct {
		name      string
		add       *keys.Key // what the refresh finds
		kid       string
		key       any
		want      Reason
		wantCalls int32
	}{
		{"rotated key arrives", rotated, "new", m.rsa2, "", 1},
		{"refresh finds nothing", nil, "new", m.rsa2, ReasonUnknownKey, 1},
		{"refresh finds another key", withID(m.es256, "other"), "new", m.rsa2, ReasonUnknownKey, 1},
		{"known kid, bad signature", rotated, "old", m.rsa2, ReasonSignature, 0},
		{"known kid, good signature", rotated, "old", m.rsa, "", 0},
		{"no kid", rotated, "", m.rsa2, ReasonSignature, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newRefreshing(tc.add, old)
			v, err := New(Policy{}, p, testClock)
			if err != nil {
				t.Fatal(err)
			}
			raw := signed(t, jwt.SigningMethodRS256, tc.key, tc.kid, accessClaims())
			_, err = v.Verify(ctx, raw)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
			} else {
				checkRefusal(t, err, raw, tc.want)
			}
			if got := p.calls.Load(); got != tc.wantCalls {
				t.Fatalf("RefreshFor called %d times, want %d", got, tc.wantCalls)
			}
			if tc.wantCalls > 0 {
				if p.kids[0] != tc.kid {
					t.Errorf("RefreshFor kid = %q, want %q", p.kids[0], tc.kid)
				}
				if p.ctx.Value(ctxKey{}) != "request" {
					t.Error("RefreshFor did not get the request's context")
				}
			}
			// Once the key is loaded, the next token with that kid needs no fetch.
			if tc.want == "" && tc.wantCalls > 0 {
				if _, err := v.Verify(ctx, raw); err != nil {
					t.Fatalf("second verification refused: %v", err)
				}
				if got := p.calls.Load(); got != tc.wantCalls {
					t.Errorf("RefreshFor called again for a loaded kid (%d calls)", got)
				}
			}
		})
	}
}

func TestVerifyNoKeys(t *testing.T) {
	raw := signed(t, jwt.SigningMethodHS256, keyMaterial(t).secret, "", accessClaims())
	for _, tc := range []struct {
		name string
		p    keys.Provider
	}{
		{"nil set", keys.Static{}},
		{"empty set", keys.Static{Set: keys.NewSet()}},
		{"refresher with nothing yet", newRefreshing(nil)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := New(Policy{}, tc.p, testClock)
			if err != nil {
				t.Fatal(err)
			}
			_, err = v.Verify(context.Background(), raw)
			checkRefusal(t, err, raw, ReasonNoKeys)
		})
	}
}

func TestVerifyTime(t *testing.T) {
	m := keyMaterial(t)
	base := accessClaims()
	for _, tc := range []struct {
		name   string
		leeway time.Duration
		claims jwt.MapClaims
		want   Reason
	}{
		{"valid", 0, base, ""},
		{"expired", 0, with(base, "exp", at(-1)), ReasonExpired},
		{"exactly at exp", 0, with(base, "exp", at(0)), ReasonExpired},
		{"half a second before exp", 0, with(base, "exp", at(0.5)), ""},
		{"half a second after exp", 0, with(base, "exp", at(-0.5)), ReasonExpired},
		{"expired within leeway", 30 * time.Second, with(base, "exp", at(-29)), ""},
		{"expired exactly at leeway", 30 * time.Second, with(base, "exp", at(-30)), ReasonExpired},
		{"expired beyond leeway", 30 * time.Second, with(base, "exp", at(-31)), ReasonExpired},
		{"exp 0 is expired, not absent", 0, with(base, "exp", 0), ReasonExpired},
		{"negative exp", 0, with(base, "exp", -1), ReasonExpired},
		{"missing exp", 0, with(base, "exp", nil), ReasonNoExp},
		{"missing exp with leeway", MaxLeeway, with(base, "exp", nil), ReasonNoExp},
		{"exp as a string", 0, with(base, "exp", "1800000300"), ReasonClaims},
		{"exp an empty object", 0, with(base, "exp", jwt.MapClaims{}), ReasonClaims},
		{"nbf an empty object", 0, with(base, "nbf", jwt.MapClaims{}), ReasonClaims},
		{"iat an array of arrays", 0, with(base, "iat", []any{[]any{1}}), ReasonClaims},
		{"exp as an object", 0, with(base, "exp", map[string]any{"t": at(300)}), ReasonClaims},
		{"exp as an array", 0, with(base, "exp", []any{at(300)}), ReasonClaims},
		{"exp true", 0, with(base, "exp", true), ReasonClaims},
		{"far future exp", 0, with(base, "exp", 1e300), ""},

		{"nbf now", 0, with(base, "nbf", at(0)), ""},
		{"nbf past", 0, with(base, "nbf", at(-100)), ""},
		{"nbf future", 0, with(base, "nbf", at(10)), ReasonNotYetValid},
		{"nbf future within leeway", 30 * time.Second, with(base, "nbf", at(30)), ""},
		{"nbf future beyond leeway", 30 * time.Second, with(base, "nbf", at(31)), ReasonNotYetValid},
		{"nbf as a string", 0, with(base, "nbf", "0"), ReasonClaims},

		{"iat future", 0, with(base, "iat", at(10)), ReasonIssuedInFuture},
		{"iat future within leeway", 30 * time.Second, with(base, "iat", at(30)), ""},
		{"iat future beyond leeway", 30 * time.Second, with(base, "iat", at(31)), ReasonIssuedInFuture},
		{"iat as a string", 0, with(base, "iat", "1800000000"), ReasonClaims},
		{"no iat", 0, with(base, "iat", nil), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(t, Policy{Leeway: tc.leeway}, m.hs)
			raw := signed(t, jwt.SigningMethodHS256, m.secret, "", tc.claims)
			_, err := v.Verify(context.Background(), raw)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			checkRefusal(t, err, raw, tc.want)
		})
	}
}

// "exp":null is present but not a number.
func TestVerifyExpNull(t *testing.T) {
	v := newVerifier(t, Policy{}, keyMaterial(t).hs)
	raw := hs256Payload(t, `{"exp":null,"user_id":1}`)
	_, err := v.Verify(context.Background(), raw)
	checkRefusal(t, err, raw, ReasonClaims)
}

func TestVerifyIssuerAudience(t *testing.T) {
	m := keyMaterial(t)
	base := with(accessClaims(), "iss", "https://issuer.example", "aud", "api")
	strict := Policy{Issuers: []string{"https://issuer.example", "https://old.example"}, Audiences: []string{"api", "web"}}
	for _, tc := range []struct {
		name   string
		policy Policy
		claims jwt.MapClaims
		want   Reason
	}{
		{"iss and aud string", strict, base, ""},
		{"second issuer", strict, with(base, "iss", "https://old.example"), ""},
		{"aud array with one accepted", strict, with(base, "aud", []string{marker, "web"}), ""},
		{"aud array of one", strict, with(base, "aud", []string{"api"}), ""},
		{"wrong iss", strict, with(base, "iss", "https://"+marker), ReasonIssuer},
		{"iss differs in case", strict, with(base, "iss", "https://ISSUER.example"), ReasonIssuer},
		{"iss with trailing slash", strict, with(base, "iss", "https://issuer.example/"), ReasonIssuer},
		{"missing iss", strict, with(base, "iss", nil), ReasonIssuer},
		{"iss array", strict, with(base, "iss", []string{"https://issuer.example"}), ReasonIssuer},
		{"iss number", strict, with(base, "iss", 1), ReasonIssuer},
		{"wrong aud", strict, with(base, "aud", marker), ReasonAudience},
		{"aud array without an accepted one", strict, with(base, "aud", []string{marker, "API"}), ReasonAudience},
		{"empty aud array", strict, with(base, "aud", []string{}), ReasonAudience},
		{"missing aud", strict, with(base, "aud", nil), ReasonAudience},
		{"aud number", strict, with(base, "aud", 1), ReasonAudience},
		{"aud object", strict, with(base, "aud", map[string]any{"api": "api"}), ReasonAudience},
		{"aud empty object", strict, with(base, "aud", map[string]any{}), ReasonAudience},
		{"aud array of arrays", strict, with(base, "aud", []any{[]string{"api"}}), ReasonAudience},
		{"aud number in an array is not its text", Policy{Audiences: []string{"1"}}, with(base, "aud", []any{1}), ReasonAudience},
		{"aud string one", Policy{Audiences: []string{"1"}}, with(base, "aud", []any{"1"}), ""},
		{"not configured: any iss and aud", Policy{}, with(base, "iss", marker, "aud", 7), ""},
		{"not configured: none at all", Policy{}, with(base, "iss", nil, "aud", nil), ""},
		{"only iss configured", Policy{Issuers: strict.Issuers}, with(base, "aud", nil), ""},
		{"only aud configured", Policy{Audiences: strict.Audiences}, with(base, "iss", nil), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(t, tc.policy, m.hs)
			raw := signed(t, jwt.SigningMethodHS256, m.secret, "", tc.claims)
			_, err := v.Verify(context.Background(), raw)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			checkRefusal(t, err, raw, tc.want)
		})
	}
}

func TestVerifyTokenType(t *testing.T) {
	m := keyMaterial(t)
	base := accessClaims()
	for _, tc := range []struct {
		name   string
		rule   string
		claims jwt.MapClaims
		want   Reason
	}{
		{"default: access", TokenTypeDefault, base, ""},
		{"default: no token_type", TokenTypeDefault, with(base, "token_type", nil), ""},
		{"default: refresh token refused", TokenTypeDefault, with(base, "token_type", "refresh"), ReasonTokenType},
		{"default: case variant", TokenTypeDefault, with(base, "token_type", "Access"), ReasonTokenType},
		{"default: empty", TokenTypeDefault, with(base, "token_type", ""), ReasonTokenType},
		{"default: array with access", TokenTypeDefault, with(base, "token_type", []string{"access"}), ReasonTokenType},
		{"default: number", TokenTypeDefault, with(base, "token_type", 1), ReasonTokenType},
		{"default: empty object", TokenTypeDefault, with(base, "token_type", map[string]any{}), ReasonTokenType},
		{"default: array of objects", TokenTypeDefault, with(base, "token_type", []any{map[string]any{"a": "refresh"}}), ReasonTokenType},
		{"off: refresh token", TokenTypeOff, with(base, "token_type", "refresh"), ""},
		{"off: number", TokenTypeOff, with(base, "token_type", 1), ""},
		{"custom: match", "id", with(base, "token_type", "id"), ""},
		{"custom: access refused", "id", base, ReasonTokenType},
		{"custom: missing", "id", with(base, "token_type", nil), ReasonTokenType},
		{"custom access: missing", "access", with(base, "token_type", nil), ReasonTokenType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(t, Policy{TokenType: tc.rule}, m.hs)
			raw := signed(t, jwt.SigningMethodHS256, m.secret, "", tc.claims)
			_, err := v.Verify(context.Background(), raw)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			checkRefusal(t, err, raw, tc.want)
		})
	}
}

// The payload is only parsed once the signature matched; a signed payload that is not a claim
// set is then refused.
func TestVerifyClaimsPayload(t *testing.T) {
	m := keyMaterial(t)
	v := newVerifier(t, Policy{}, m.hs)
	exp := `"exp":1800000300`
	for _, tc := range []struct {
		name    string
		payload string
	}{
		{"not JSON", "not json " + marker},
		{"array", `[{` + exp + `}]`},
		{"string", `"` + marker + `"`},
		{"null", `null`},
		{"trailing data", `{` + exp + `}{}`},
		{"duplicate exp", `{` + exp + `,"exp":9999999999}`},
		{"duplicate sub", `{` + exp + `,"sub":"alice","sub":"` + marker + `"}`},
		{"case-variant exp", `{` + exp + `,"EXP":9999999999}`},
		{"invalid UTF-8", "{" + exp + ",\"sub\":\"\xff\"}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := hs256Payload(t, tc.payload)
			_, err := v.Verify(context.Background(), raw)
			checkRefusal(t, err, raw, ReasonClaims)

			// The same payload under a wrong signature is a signature failure: it is not parsed.
			forged := assemble(t, `{"alg":"HS256","typ":"JWT"}`, tc.payload, jwt.SigningMethodHS256, []byte(strings.Repeat("x", 64)))
			_, err = v.Verify(context.Background(), forged)
			checkRefusal(t, err, forged, ReasonSignature)
		})
	}
}

func TestVerifySafeClaims(t *testing.T) {
	m := keyMaterial(t)
	v := newVerifier(t, Policy{SafeClaims: []string{"sub", "name", "roles", "realm.user"}}, m.hs)
	base := accessClaims()
	for _, tc := range []struct {
		name   string
		claims jwt.MapClaims
		want   Reason
	}{
		{"plain", with(base, "sub", "alice", "name", "Alice Exämple\twork"), ""},
		{"CRLF", with(base, "sub", "alice\r\nX-Admin: 1"), ReasonUnsafeClaim},
		{"LF", with(base, "name", "a\nb"), ReasonUnsafeClaim},
		{"CR", with(base, "name", "a\rb"), ReasonUnsafeClaim},
		{"NUL", with(base, "sub", "alice\x00"), ReasonUnsafeClaim},
		{"other control", with(base, "sub", "a\x1bb"), ReasonUnsafeClaim},
		{"DEL", with(base, "sub", "a\x7fb"), ReasonUnsafeClaim},
		{"array item", with(base, "roles", []string{"user", "admin\n"}), ReasonUnsafeClaim},
		{"nested claim", with(base, "realm", map[string]any{"user": "a\r\nb"}), ReasonUnsafeClaim},
		{"unlisted claim may hold anything", with(base, "note", "a\r\nb\x00"), ""},
		{"absent claims", base, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := signed(t, jwt.SigningMethodHS256, m.secret, "", tc.claims)
			_, err := v.Verify(context.Background(), raw)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			checkRefusal(t, err, raw, tc.want)
		})
	}
}

func TestVerifyRequire(t *testing.T) {
	m := keyMaterial(t)
	base := with(accessClaims(),
		"role", "admin",
		"groups", []string{"staff", "dev"},
		"realm_access", map[string]any{"roles": []string{"offline", "user"}},
		"level", 3,
		"verified", true,
	)
	for _, tc := range []struct {
		name    string
		require []Requirement
		want    Reason
	}{
		{"equal", []Requirement{{"role", []string{"admin"}}}, ""},
		{"equal one of several", []Requirement{{"role", []string{"root", "admin"}}}, ""},
		{"array contains", []Requirement{{"groups", []string{"dev"}}}, ""},
		{"nested array contains", []Requirement{{"realm_access.roles", []string{"user"}}}, ""},
		{"number as text", []Requirement{{"level", []string{"3"}}}, ""},
		{"bool as text", []Requirement{{"verified", []string{"true"}}}, ""},
		{"all of several rules", []Requirement{{"role", []string{"admin"}}, {"groups", []string{"staff"}}}, ""},
		{"unequal", []Requirement{{"role", []string{"root"}}}, ReasonScope},
		{"case differs", []Requirement{{"role", []string{"Admin"}}}, ReasonScope},
		{"array lacks", []Requirement{{"groups", []string{"ops"}}}, ReasonScope},
		{"joined array text is not an item", []Requirement{{"groups", []string{"staff,dev"}}}, ReasonScope},
		{"missing claim", []Requirement{{"department", []string{"it"}}}, ReasonScope},
		{"object claim", []Requirement{{"realm_access", []string{""}}}, ReasonScope},
		{"one of several rules unmet", []Requirement{{"role", []string{"admin"}}, {"groups", []string{"ops"}}}, ReasonScope},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(t, Policy{Require: tc.require}, m.hs)
			raw := signed(t, jwt.SigningMethodHS256, m.secret, "", base)
			_, err := v.Verify(context.Background(), raw)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			checkRefusal(t, err, raw, tc.want)
		})
	}
}

// Requirements are checked last: an expired token is expired (401), not forbidden (403).
func TestVerifyRequireAfterValidity(t *testing.T) {
	m := keyMaterial(t)
	v := newVerifier(t, Policy{Require: []Requirement{{"role", []string{"admin"}}}}, m.hs)
	raw := signed(t, jwt.SigningMethodHS256, m.secret, "", with(accessClaims(), "exp", at(-10)))
	_, err := v.Verify(context.Background(), raw)
	checkRefusal(t, err, raw, ReasonExpired)
}

func TestVerifySizeAndShape(t *testing.T) {
	m := keyMaterial(t)
	valid := signed(t, jwt.SigningMethodHS256, m.secret, "", accessClaims())
	// big is a valid token longer than the smallest MaxTokenSize, to set the limit at its length.
	big := signed(t, jwt.SigningMethodHS256, m.secret, "", with(accessClaims(), "pad", strings.Repeat("p", 200)))
	if len(big) <= minMaxTokenSize {
		t.Fatalf("test token is only %d bytes", len(big))
	}

	for _, tc := range []struct {
		name string
		max  int
		raw  string
		want Reason
	}{
		{"valid", 0, valid, ""},
		{"at the limit", len(big), big, ""},
		{"one byte over", len(big) - 1, big, ReasonTooLarge},
		{"default limit", 0, strings.Repeat("a", DefaultMaxTokenSize+1), ReasonTooLarge},
		{"garbage under the default limit", 0, strings.Repeat("a", DefaultMaxTokenSize), ReasonMalformed},
		{"empty", 0, "", ReasonMalformed},
		{"one segment", 0, "abc", ReasonMalformed},
		{"two segments", 0, valid[:strings.LastIndexByte(valid, '.')], ReasonMalformed},
		{"four segments", 0, valid + ".e30", ReasonMalformed},
		{"Bearer prefix left in", 0, "Bearer " + valid, ReasonMalformed},
		{"trailing newline", 0, valid + "\n", ReasonMalformed},
		{"padding", 0, valid + "==", ReasonMalformed},
		{"header not JSON", 0, enc([]byte(marker)) + valid[strings.IndexByte(valid, '.'):], ReasonMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(t, Policy{MaxTokenSize: tc.max}, m.hs)
			_, err := v.Verify(context.Background(), tc.raw)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			checkRefusal(t, err, tc.raw, tc.want)
		})
	}
}

func TestNew(t *testing.T) {
	provider := keys.Static{Set: keys.NewSet(keyMaterial(t).hs)}
	for _, tc := range []struct {
		name    string
		policy  Policy
		kp      keys.Provider
		wantErr string // "" means valid
	}{
		{"zero policy", Policy{}, provider, ""},
		{"full policy", Policy{
			Algorithms: []string{"HS256", "RS256", "EdDSA"}, Issuers: []string{"i"}, Audiences: []string{"a"},
			Leeway: MaxLeeway, TokenType: "access", Require: []Requirement{{"role", []string{"admin"}}},
			MaxTokenSize: 1 << 20, SafeClaims: []string{"sub"},
		}, provider, ""},
		{"nil provider", Policy{}, nil, "no key provider"},
		{"none", Policy{Algorithms: []string{"none"}}, provider, `"none" is never accepted`},
		{"None among others", Policy{Algorithms: []string{"HS256", "None"}}, provider, `"none" is never accepted`},
		{"NONE", Policy{Algorithms: []string{"NONE"}}, provider, `"none" is never accepted`},
		{"lower-case name", Policy{Algorithms: []string{"hs256"}}, provider, `unknown algorithm "hs256"; supported (case-sensitive): HS256, HS384, HS512, RS256`},
		{"unknown name", Policy{Algorithms: []string{"ES256K"}}, provider, `unknown algorithm "ES256K"`},
		{"empty name", Policy{Algorithms: []string{""}}, provider, `unknown algorithm ""`},
		{"negative leeway", Policy{Leeway: -time.Second}, provider, "leeway -1s is out of range"},
		{"leeway too large", Policy{Leeway: MaxLeeway + time.Second}, provider, "leeway 5m1s is out of range; use a duration from 0 to 5m0s"},
		{"max size too small", Policy{MaxTokenSize: 255}, provider, "max token size 255 is out of range"},
		{"max size smallest", Policy{MaxTokenSize: 256}, provider, ""},
		{"max size too large", Policy{MaxTokenSize: 1<<20 + 1}, provider, "max token size 1048577 is out of range"},
		{"max size negative", Policy{MaxTokenSize: -1}, provider, "max token size -1 is out of range"},
		{"require without claim", Policy{Require: []Requirement{{"", []string{"x"}}}}, provider, "claim name must not be empty"},
		{"require without values", Policy{Require: []Requirement{{"role", nil}}}, provider, "require role: give at least one accepted value"},
		{"empty issuer", Policy{Issuers: []string{"i", ""}}, provider, "issuers must not contain an empty value"},
		{"empty audience", Policy{Audiences: []string{""}}, provider, "audiences must not contain an empty value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := New(tc.policy, tc.kp, nil)
			if tc.wantErr == "" {
				if err != nil || v == nil {
					t.Fatalf("New = %v, %v; want a verifier", v, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	v, err := New(Policy{}, keys.Static{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v.maxSize != DefaultMaxTokenSize {
		t.Errorf("max size = %d, want %d", v.maxSize, DefaultMaxTokenSize)
	}
	if v.now == nil {
		t.Error("no clock")
	}
	if v.refresher != nil {
		t.Error("a Static provider was taken for a Refresher")
	}
	if r, _ := New(Policy{}, newRefreshing(nil), nil); r.refresher == nil {
		t.Error("a Refresher provider was not recognised")
	}
}

// The Verifier keeps its own copy of the policy: changing the caller's slices afterwards changes
// nothing.
func TestNewCopiesPolicy(t *testing.T) {
	m := keyMaterial(t)
	p := Policy{
		Algorithms: []string{"RS256"},
		Issuers:    []string{"https://issuer.example"},
		Require:    []Requirement{{"role", []string{"admin"}}},
	}
	v := newVerifier(t, p, m.hs, m.rs)
	p.Algorithms[0] = "HS256"
	p.Issuers[0] = marker
	p.Require[0].Values[0] = "user"

	claims := with(accessClaims(), "iss", marker, "role", "user")
	raw := signed(t, jwt.SigningMethodHS256, m.secret, "", claims)
	_, err := v.Verify(context.Background(), raw)
	checkRefusal(t, err, raw, ReasonAlgorithm)

	raw = signed(t, jwt.SigningMethodRS256, m.rsa, "", claims)
	_, err = v.Verify(context.Background(), raw)
	checkRefusal(t, err, raw, ReasonIssuer)

	raw = signed(t, jwt.SigningMethodRS256, m.rsa, "", with(claims, "iss", "https://issuer.example"))
	_, err = v.Verify(context.Background(), raw)
	checkRefusal(t, err, raw, ReasonScope)
}

// Verify returns the verified claims, registered ones included.
func TestVerifyReturnsClaims(t *testing.T) {
	m := keyMaterial(t)
	v := newVerifier(t, Policy{}, m.hs)
	raw := signed(t, jwt.SigningMethodHS256, m.secret, "", with(accessClaims(), "sub", "alice", "realm", map[string]any{"roles": []string{"a", "b"}}))
	c, err := v.Verify(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]token.Value{
		"sub":         {Kind: token.String, Text: "alice"},
		"token_type":  {Kind: token.String, Text: "access"},
		"user_id":     {Kind: token.Number, Text: "1", Num: 1},
		"realm.roles": {Kind: token.Array, Text: "a,b", Items: []string{"a", "b"}},
	} {
		got, ok := c.Get(name)
		if !ok || got.Kind != want.Kind || got.Text != want.Text || got.Num != want.Num || strings.Join(got.Items, "|") != strings.Join(want.Items, "|") {
			t.Errorf("Get(%q) = %+v, %v; want %+v", name, got, ok, want)
		}
	}
}

// Every refusal is a 401 except an unmet requirement.
func TestErrorStatus(t *testing.T) {
	if e := refuse(ReasonExpired, "x"); e.Status != http.StatusUnauthorized || e.Error() != "token_expired: x" {
		t.Errorf("refuse = %+v (%q)", e, e.Error())
	}
}
