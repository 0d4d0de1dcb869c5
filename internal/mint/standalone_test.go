package mint

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestNewHMACAlg(t *testing.T) {
	for _, tt := range []struct {
		alg    string
		secret int // bytes
		errHas string
	}{
		{"HS256", 32, ""},
		{"HS384", 48, ""},
		{"HS512", 64, ""},
		{"HS384", 47, "too short for HS384, which needs at least 48"},
		{"HS512", 63, "too short for HS512, which needs at least 64"},
		{"HS256", 31, "at least 32"},
		{"RS256", 64, "not supported with a secret"},
		{"none", 64, "not supported with a secret"},
		{"hs256", 64, "not supported with a secret"},
	} {
		secret := []byte(strings.Repeat("s", tt.secret))
		s, err := NewHMACAlg(tt.alg, secret, "--secret-env")
		if tt.errHas != "" {
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("%s, %d bytes: err = %v, want %q", tt.alg, tt.secret, err, tt.errHas)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tt.alg, err)
		}
		if s.Alg != tt.alg || s.Kid != "" || !reflect.DeepEqual(s.VerifyKey().Algs, []string{tt.alg}) {
			t.Errorf("%s: alg %q kid %q verify algs %v", tt.alg, s.Alg, s.Kid, s.VerifyKey().Algs)
		}
		// golang-jwt, an independent implementation, agrees on the signature.
		raw, err := s.Sign([]byte(`{"exp":99999999999}`))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := jwt.Parse(raw, func(*jwt.Token) (any, error) { return secret, nil },
			jwt.WithValidMethods([]string{tt.alg})); err != nil {
			t.Errorf("%s: golang-jwt refused the token: %v", tt.alg, err)
		}
	}
}

func TestStandalone(t *testing.T) {
	now := testNow
	for _, alg := range allAlgs {
		t.Run(alg, func(t *testing.T) {
			s := signerFor(t, alg)
			tok, err := Standalone(s, now, 15*time.Minute, map[string]json.RawMessage{
				"sub": json.RawMessage(`"alice"`), "user_id": json.RawMessage(`7`), "admin": json.RawMessage(`true`),
			})
			if err != nil {
				t.Fatal(err)
			}
			clock := func() time.Time { return now }
			ring := StaticRing(s)
			ours := verifyOurs(t, ring, clock, "access", tok.Raw)
			theirs := verifyGolangJWT(t, ring, clock, tok.Raw)
			for name, want := range map[string]any{"token_type": "access", "exp": float64(now.Unix() + 900),
				"iat": float64(now.Unix()), "jti": tok.JTI, "sub": "alice", "user_id": 7.0, "admin": true} {
				if got := theirs[name]; got != want {
					t.Errorf("claim %s = %#v, want %#v", name, got, want)
				}
			}
			if len(theirs) != 7 {
				t.Errorf("claims %v, want exactly 7", theirs)
			}
			if ours == nil || len(tok.JTI) != 32 || !tok.Exp.Equal(now.Add(15*time.Minute)) {
				t.Errorf("token %+v", tok)
			}
			_, payload := parts(t, tok.Raw)
			if got, want := claimNames(t, payload), []string{"token_type", "exp", "iat", "jti", "admin", "sub", "user_id"}; !reflect.DeepEqual(got, want) {
				t.Errorf("claim order %v, want %v", got, want)
			}
		})
	}
}

// A given token_type or jti replaces the default, in its place.
func TestStandaloneReplaces(t *testing.T) {
	tok, err := Standalone(signerFor(t, "HS256"), testNow, time.Minute, map[string]json.RawMessage{
		"token_type": json.RawMessage(`"refresh"`), "jti": json.RawMessage(`"j1"`), "a": json.RawMessage(`1`),
	})
	if err != nil {
		t.Fatal(err)
	}
	_, payload := parts(t, tok.Raw)
	want := `{"token_type":"refresh","exp":` + itoa(testNow.Unix()+60) + `,"iat":` + itoa(testNow.Unix()) + `,"jti":"j1","a":1}`
	if payload != want {
		t.Errorf("payload %s\nwant    %s", payload, want)
	}
	if tok.JTI != "j1" {
		t.Errorf("JTI = %q", tok.JTI)
	}
}

func TestStandaloneRefuses(t *testing.T) {
	s := signerFor(t, "HS256")
	for _, tt := range []struct {
		name   string
		ttl    time.Duration
		claims map[string]json.RawMessage
		errHas string
	}{
		{"zero ttl", 0, nil, "must be positive"},
		{"negative ttl", -time.Second, nil, "must be positive"},
		{"exp", time.Minute, map[string]json.RawMessage{"exp": json.RawMessage(`1`)}, "claim exp is set from the token's lifetime"},
		{"iat", time.Minute, map[string]json.RawMessage{"iat": json.RawMessage(`1`)}, "claim iat is set from the token's lifetime"},
		// A value that is not one JSON value would smuggle in members of its own.
		{"injected member", time.Minute, map[string]json.RawMessage{"a": json.RawMessage(`1,"admin":true`)}, "not a JSON value"},
		{"empty value", time.Minute, map[string]json.RawMessage{"a": nil}, "not a JSON value"},
		{"case twin of exp", time.Minute, map[string]json.RawMessage{"EXP": json.RawMessage(`1`)}, "valid claim set"},
		{"case twins", time.Minute, map[string]json.RawMessage{"Sub": json.RawMessage(`"a"`), "sub": json.RawMessage(`"b"`)}, "valid claim set"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := Standalone(s, testNow, tt.ttl, tt.claims)
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("err = %v (token %q), want %q", err, tok.Raw, tt.errHas)
			}
		})
	}
	if _, err := Standalone(nil, testNow, time.Minute, nil); err == nil {
		t.Error("minted without a signer")
	}
}
