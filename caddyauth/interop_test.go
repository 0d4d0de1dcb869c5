package caddyauth

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/gatehouse-dev/gatehouse/internal/verify"
)

func durationPtr(d time.Duration) *caddy.Duration {
	c := caddy.Duration(d)
	return &c
}

// hsTokenAt is an HS256 token of testSecret with iat and nbf at now+skew and exp an hour later.
func hsTokenAt(skew time.Duration) string {
	at := strconv.FormatInt(time.Now().Add(skew).Unix(), 10)
	return signHS256(testSecret, `{"alg":"HS256","typ":"JWT"}`, `{"sub":"alice","iat":`+at+`,"nbf":`+at+`,"exp":`+
		strconv.FormatInt(time.Now().Add(skew+time.Hour).Unix(), 10)+`}`)
}

// The leeway defaults to 60s with key settings, so a token from an issuer whose clock is ahead
// passes; an explicit 0 (JSON 0, Caddyfile leeway 0) is kept, not replaced by the default.
func TestLeewayDefault(t *testing.T) {
	for _, tt := range []struct {
		name   string
		leeway *caddy.Duration
		skew   time.Duration
		want   string // "" when accepted, else the reason
	}{
		{"default: issuer 2s ahead", nil, 2 * time.Second, ""},
		{"default: issuer 50s ahead", nil, 50 * time.Second, ""},
		{"default: issuer 2m ahead", nil, 2 * time.Minute, string(verify.ReasonNotYetValid)},
		{"explicit 0: issuer 2s ahead", durationPtr(0), 2 * time.Second, string(verify.ReasonNotYetValid)},
		{"explicit 0: on time", durationPtr(0), 0, ""},
		{"explicit 3m: issuer 2m ahead", durationPtr(3 * time.Minute), 2 * time.Minute, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			j := provision(t, &JWTAuth{Secret: testSecret, Leeway: tt.leeway})
			s := serve(j, bearer(hsTokenAt(tt.skew)), nil)
			if got := s.placeholder("http.auth.jwt.error"); s.nextCalled != (tt.want == "") || got != tt.want {
				t.Errorf("next called %v, reason %q; want reason %q", s.nextCalled, got, tt.want)
			}
		})
	}
	// JSON: an absent leeway is nil, a 0 is an explicit zero.
	for _, tt := range []struct {
		json string
		want time.Duration
	}{
		{`{"secret":"` + testSecret + `"}`, verify.DefaultLeeway},
		{`{"secret":"` + testSecret + `","leeway":0}`, 0},
		{`{"secret":"` + testSecret + `","leeway":"15s"}`, 15 * time.Second},
		{`{}`, 0}, // no key settings: this Caddy's jwt_issuer, one clock
	} {
		var j JWTAuth
		if err := json.Unmarshal([]byte(tt.json), &j); err != nil {
			t.Fatal(err)
		}
		if got := j.leeway(); got != tt.want {
			t.Errorf("%s: leeway %v, want %v", tt.json, got, tt.want)
		}
	}
}

// typ at+jwt refuses an ID token (no typ) and a plain JWT with 401 and a description naming the
// accepted types, and admits at+jwt in any accepted spelling.
func TestTyp(t *testing.T) {
	j := provision(t, &JWTAuth{Secret: testSecret, Typ: []string{"at+jwt"}})
	for _, tt := range []struct {
		name, header, want string
	}{
		{"at+jwt", `{"alg":"HS256","typ":"at+jwt"}`, ""},
		{"application/at+jwt", `{"alg":"HS256","typ":"application/at+jwt"}`, ""},
		{"AT+JWT", `{"alg":"HS256","typ":"AT+JWT"}`, ""},
		{"no typ", `{"alg":"HS256"}`, `Bearer realm="api", error="invalid_token", error_description="token header has no typ; the accepted types are: at+jwt"`},
		{"JWT", `{"alg":"HS256","typ":"JWT"}`, `Bearer realm="api", error="invalid_token", error_description="token header typ is not one of the accepted types: at+jwt"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := serve(j, bearer(signHS256(testSecret, tt.header, claims(`"sub":"alice"`))), nil)
			if tt.want == "" {
				if !s.nextCalled {
					t.Fatalf("refused: %s", s.placeholder("http.auth.jwt.error_description"))
				}
				return
			}
			if s.nextCalled || s.rec.Code != 401 || s.rec.Header().Get("WWW-Authenticate") != tt.want {
				t.Errorf("got %d %q, want 401 %q", s.rec.Code, s.rec.Header().Get("WWW-Authenticate"), tt.want)
			}
			if got := s.placeholder("http.auth.jwt.error"); got != string(verify.ReasonTokenType) {
				t.Errorf("reason %q", got)
			}
		})
	}
}

// require scope matches the words of a scope string.
func TestRequireScopeWords(t *testing.T) {
	j := provision(t, &JWTAuth{Secret: testSecret, Require: []Requirement{{Claim: "scope", Values: []string{"api:read"}}}})
	if s := serve(j, bearer(hsToken(`"sub":"alice","scope":"openid api:read api:write"`)), nil); !s.nextCalled {
		t.Errorf("refused: %s", s.placeholder("http.auth.jwt.error"))
	}
	if s := serve(j, bearer(hsToken(`"sub":"alice","scope":"openid api:write"`)), nil); s.nextCalled || s.rec.Code != 403 {
		t.Errorf("without the scope: %d", s.rec.Code)
	}
}

// A jwks_file key that is skipped is logged at provision with its kid and why.
func TestJWKSFileSkippedLogged(t *testing.T) {
	dir := t.TempDir()
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(ecJWKS(testEC(t), "good"), &set); err != nil {
		t.Fatal(err)
	}
	set.Keys = append(set.Keys, map[string]any{"kty": "OKP", "crv": "X25519", "kid": "agreement", "x": "AAAA"})
	data, _ := json.Marshal(set)
	path := writeFile(t, dir, "jwks.json", data)

	core, logs := observer.New(zapcore.WarnLevel)
	j := &JWTAuth{JWKSFiles: []string{path}}
	j.logger = zap.New(core)
	if _, err := j.loadStaticKeys(); err != nil {
		t.Fatal(err)
	}
	skips := logs.FilterMessage("JWK Set key skipped").AllUntimed()
	if len(skips) != 1 {
		t.Fatalf("%d warnings, want 1: %v", len(skips), logs.AllUntimed())
	}
	if f := skips[0].ContextMap(); f["kid"] != "agreement" || f["jwks_file"] != path || f["reason"] != `OKP "crv":"X25519" is not supported (Ed25519)` {
		t.Errorf("warning fields %v", f)
	}
}
