package verify

import (
	"context"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse/internal/keys"
)

// The shapes of tokens from other issuers (oidc-provider, Keycloak, Auth0): scope as a
// space-separated string, typ at+jwt, and alg Ed25519.

// scope and scp strings are space-separated lists, matched word by word; arrays by element; every
// other claim whole.
func TestVerifyRequireScopeWords(t *testing.T) {
	m := keyMaterial(t)
	for _, tc := range []struct {
		name    string
		claims  jwt.MapClaims
		require []Requirement
		want    Reason
	}{
		{"scope string, first word", with(accessClaims(), "scope", "api:read api:write"), []Requirement{{"scope", []string{"api:read"}}}, ""},
		{"scope string, last word", with(accessClaims(), "scope", "openid api:read api:write"), []Requirement{{"scope", []string{"api:write"}}}, ""},
		{"scope string, one of the values", with(accessClaims(), "scope", "openid profile"), []Requirement{{"scope", []string{"api:read", "profile"}}}, ""},
		{"scope string of one word", with(accessClaims(), "scope", "api:read"), []Requirement{{"scope", []string{"api:read"}}}, ""},
		{"scope string, both needed, two rules", with(accessClaims(), "scope", "a b c"), []Requirement{{"scope", []string{"a"}}, {"scope", []string{"c"}}}, ""},
		{"scope string, repeated spaces", with(accessClaims(), "scope", "  a   b "), []Requirement{{"scope", []string{"b"}}}, ""},
		{"scp string", with(accessClaims(), "scp", "User.Read Mail.Send"), []Requirement{{"scp", []string{"Mail.Send"}}}, ""},
		{"scp array", with(accessClaims(), "scp", []string{"User.Read", "Mail.Send"}), []Requirement{{"scp", []string{"Mail.Send"}}}, ""},
		{"scope array", with(accessClaims(), "scope", []string{"a", "b"}), []Requirement{{"scope", []string{"b"}}}, ""},
		{"scope string lacks the word", with(accessClaims(), "scope", "api:read api:write"), []Requirement{{"scope", []string{"api:admin"}}}, ReasonScope},
		{"scope word prefix is not the word", with(accessClaims(), "scope", "api:readonly"), []Requirement{{"scope", []string{"api:read"}}}, ReasonScope},
		{"scope words are case-sensitive", with(accessClaims(), "scope", "API:READ"), []Requirement{{"scope", []string{"api:read"}}}, ReasonScope},
		{"scope split on spaces only", with(accessClaims(), "scope", "a,b\tc"), []Requirement{{"scope", []string{"b"}}}, ReasonScope},
		{"scope array element with a space is one element", with(accessClaims(), "scope", []string{"a b"}), []Requirement{{"scope", []string{"a"}}}, ReasonScope},
		{"empty scope", with(accessClaims(), "scope", ""), []Requirement{{"scope", []string{"a"}}}, ReasonScope},
		{"scope number", with(accessClaims(), "scope", 1), []Requirement{{"scope", []string{"1"}}}, ""},
		{"other claims whole", with(accessClaims(), "role", "admin editor"), []Requirement{{"role", []string{"admin"}}}, ReasonScope},
		{"other claims whole, equal", with(accessClaims(), "role", "admin editor"), []Requirement{{"role", []string{"admin editor"}}}, ""},
		{"nested scope whole", with(accessClaims(), "ext", map[string]any{"scope": "a b"}), []Requirement{{"ext.scope", []string{"a"}}}, ReasonScope},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(t, Policy{Require: tc.require}, m.hs)
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

func TestCheckRequirement(t *testing.T) {
	for _, tc := range []struct {
		rq      Requirement
		wantErr string
	}{
		{Requirement{"scope", []string{"api:read", "api:write"}}, ""},
		{Requirement{"role", []string{"admin editor"}}, ""},
		{Requirement{"role", []string{""}}, ""},
		{Requirement{"scope", []string{"api:read api:write"}}, `require scope: "api:read api:write" is not a single scope`},
		{Requirement{"scp", []string{"a\tb"}}, `require scp: "a\tb" is not a single scope`},
		{Requirement{"scope", []string{""}}, `require scope: "" is not a single scope`},
		{Requirement{"", []string{"a"}}, "the claim name must not be empty"},
		{Requirement{"scope", nil}, "require scope: give at least one accepted value"},
	} {
		err := CheckRequirement(tc.rq)
		if tc.wantErr == "" {
			if err != nil {
				t.Errorf("%v: %v", tc.rq, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%v: err = %v, want %q", tc.rq, err, tc.wantErr)
		}
		if _, err := New(Policy{Require: []Requirement{tc.rq}}, keys.Static{Set: keys.NewSet(keyMaterial(t).hs)}, nil); err == nil {
			t.Errorf("%v: New accepted it", tc.rq)
		}
	}
}

// With Types set the header typ is required and compared as a media type (RFC 7515 §4.1.9):
// case-insensitive, "application/" optional. Without, typ is not looked at.
func TestVerifyTyp(t *testing.T) {
	m := keyMaterial(t)
	payload := jsonClaims(t, accessClaims())
	tok := func(header string) string {
		return assemble(t, header, payload, jwt.SigningMethodHS256, m.secret)
	}
	at := []string{"at+jwt"}
	for _, tc := range []struct {
		name   string
		types  []string
		header string
		want   Reason
		desc   string
	}{
		{"at+jwt", at, `{"alg":"HS256","typ":"at+jwt"}`, "", ""},
		{"upper case", at, `{"alg":"HS256","typ":"AT+JWT"}`, "", ""},
		{"with application/", at, `{"alg":"HS256","typ":"application/at+jwt"}`, "", ""},
		{"with Application/ in mixed case", at, `{"alg":"HS256","typ":"Application/At+JWT"}`, "", ""},
		{"configured with application/", []string{"application/at+jwt"}, `{"alg":"HS256","typ":"at+jwt"}`, "", ""},
		{"configured in upper case", []string{"AT+JWT"}, `{"alg":"HS256","typ":"at+jwt"}`, "", ""},
		{"second of two", []string{"JWT", "at+jwt"}, `{"alg":"HS256","typ":"at+jwt"}`, "", ""},
		{"no typ (an ID token)", at, `{"alg":"HS256"}`, ReasonTokenType, "token header has no typ; the accepted types are: at+jwt"},
		{"typ JWT", at, `{"alg":"HS256","typ":"JWT"}`, ReasonTokenType, "token header typ is not one of the accepted types: at+jwt"},
		{"empty typ", at, `{"alg":"HS256","typ":""}`, ReasonTokenType, "token header has no typ"},
		{"another subtype", at, `{"alg":"HS256","typ":"at+jwt2"}`, ReasonTokenType, "not one of the accepted types"},
		{"another top-level type", at, `{"alg":"HS256","typ":"text/at+jwt"}`, ReasonTokenType, "not one of the accepted types"},
		{"a suffix of it", at, `{"alg":"HS256","typ":"t+jwt"}`, ReasonTokenType, "not one of the accepted types"},
		{"with a parameter", at, `{"alg":"HS256","typ":"at+jwt; x=y"}`, ReasonTokenType, "not one of the accepted types"},
		{"not set: no typ", nil, `{"alg":"HS256"}`, "", ""},
		{"not set: any typ", nil, `{"alg":"HS256","typ":"whatever"}`, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(t, Policy{Types: tc.types}, m.hs)
			raw := tok(tc.header)
			_, err := v.Verify(context.Background(), raw)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			checkRefusal(t, err, raw, tc.want)
			if e := err.(*Error); !strings.Contains(e.Description, tc.desc) || e.Status != 401 {
				t.Errorf("got %d %q, want 401 with %q", e.Status, e.Description, tc.desc)
			}
		})
	}
	// A refused typ is not cached as passing, and a good token is not refused from the cache.
	v := newVerifier(t, Policy{Types: at}, m.hs)
	good, idToken := tok(`{"alg":"HS256","typ":"at+jwt"}`), tok(`{"alg":"HS256"}`)
	for range 2 {
		if _, err := v.Verify(context.Background(), good); err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(context.Background(), idToken); err == nil {
			t.Fatal("ID token accepted")
		}
	}
}

func TestCheckTypes(t *testing.T) {
	for _, tc := range []struct {
		types   []string
		wantErr string
	}{
		{[]string{"at+jwt", "application/at+jwt", "JWT", "dpop+jwt", "vnd.example.token+jwt"}, ""},
		{[]string{""}, "typ must not contain an empty value"},
		{[]string{"at jwt"}, `typ "at jwt" is not a media type`},
		{[]string{"at+jwt;q=1"}, "is not a media type"},
		{[]string{"a/b/c"}, "is not a media type"},
		{[]string{"/jwt"}, "is not a media type"},
		{[]string{"application/"}, "is not a media type"},
		{[]string{`"at+jwt"`}, "is not a media type"},
		{[]string{strings.Repeat("a", 200)}, "is not a media type"},
	} {
		err := CheckTypes(tc.types)
		if tc.wantErr == "" {
			if err != nil {
				t.Errorf("%q: %v", tc.types, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%q: err = %v, want %q", tc.types, err, tc.wantErr)
		}
		if _, err := New(Policy{Types: tc.types}, keys.Static{Set: keys.NewSet(keyMaterial(t).hs)}, nil); err == nil {
			t.Errorf("%q: New accepted it", tc.types)
		}
	}
}

// alg Ed25519 (RFC 9864) verifies with an Ed25519 key; an allow-list of EdDSA or Ed25519 admits
// both spellings; no other spelling passes.
func TestVerifyEd25519Alg(t *testing.T) {
	m := keyMaterial(t)
	payload := jsonClaims(t, accessClaims())
	tok := func(alg string) string {
		return assemble(t, `{"alg":"`+alg+`","kid":"ed"}`, payload, jwt.SigningMethodEdDSA, m.ed)
	}
	pinned := &keys.Key{ID: "ed", Algs: []string{"Ed25519"}, Public: m.ed.Public()} // a JWK with "alg":"Ed25519"
	for _, tc := range []struct {
		name string
		algs []string
		key  *keys.Key
		alg  string
		want Reason
	}{
		{"Ed25519, no allow-list", nil, m.eddsa, "Ed25519", ""},
		{"EdDSA, no allow-list", nil, m.eddsa, "EdDSA", ""},
		{"Ed25519 with EdDSA allowed", []string{"EdDSA"}, m.eddsa, "Ed25519", ""},
		{"EdDSA with Ed25519 allowed", []string{"Ed25519"}, m.eddsa, "EdDSA", ""},
		{"Ed25519 on a key pinned to Ed25519", nil, pinned, "Ed25519", ""},
		{"EdDSA on a key pinned to Ed25519", nil, pinned, "EdDSA", ""},
		{"Ed25519 not allowed", []string{"ES256"}, m.eddsa, "Ed25519", ReasonAlgorithm},
		{"lower-case ed25519", nil, m.eddsa, "ed25519", ReasonAlgorithm},
		{"Ed448", nil, m.eddsa, "Ed448", ReasonAlgorithm},
		{"Ed25519 with only an RSA key", nil, m.rs, "Ed25519", ReasonUnknownKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(t, Policy{Algorithms: tc.algs}, tc.key)
			raw := tok(tc.alg)
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
