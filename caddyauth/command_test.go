package caddyauth

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestMintToken(t *testing.T) {
	secret64 := []byte(strings.Repeat("s", 64))
	now := time.Now()
	tests := []struct {
		name   string
		secret []byte
		alg    string
		ttl    time.Duration
		pairs  []string
		want   map[string]any // claims expected in the token, compared as JSON values
	}{
		{"defaults", secret64[:32], "HS256", 5 * time.Minute, nil,
			map[string]any{"token_type": "access"}},
		{"typed claims", secret64[:32], "HS256", time.Hour,
			[]string{"sub=alice", "user_id=7", "neg=-3", "admin=true", "off=false", "ratio=-1.5", "zip=007",
				"big=9007199254740992", "quoted=\"7\"", "text=\"true\"", "spaced= 7", "empty=", "null=null"},
			map[string]any{"sub": "alice", "user_id": 7.0, "neg": -3.0, "admin": true, "off": false, "ratio": "-1.5",
				"zip": "007", "big": "9007199254740992", "quoted": "7", "text": "true", "spaced": " 7", "empty": "", "null": "null"}},
		{"value with equals sign", secret64[:32], "HS256", time.Minute, []string{"q=a=b"},
			map[string]any{"q": "a=b"}},
		{"token_type replaced", secret64[:32], "HS256", time.Minute, []string{"token_type=refresh"},
			map[string]any{"token_type": "refresh"}},
		{"HS384", secret64[:48], "HS384", time.Minute, nil, map[string]any{}},
		{"HS512", secret64, "HS512", time.Minute, nil, map[string]any{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := mintToken(tt.secret, tt.alg, tt.ttl, tt.pairs, now)
			if err != nil {
				t.Fatalf("mintToken: %v", err)
			}
			claims := jwt.MapClaims{}
			tok, err := jwt.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return tt.secret, nil },
				jwt.WithValidMethods([]string{tt.alg}), jwt.WithExpirationRequired(), jwt.WithIssuedAt())
			if err != nil {
				t.Fatalf("token does not verify: %v", err)
			}
			if tok.Header["alg"] != tt.alg {
				t.Errorf("alg = %v, want %s", tok.Header["alg"], tt.alg)
			}
			if got, want := claims["exp"], float64(now.Add(tt.ttl).Unix()); got != want {
				t.Errorf("exp = %v, want %v", got, want)
			}
			if got, want := claims["iat"], float64(now.Unix()); got != want {
				t.Errorf("iat = %v, want %v", got, want)
			}
			if jti, _ := claims["jti"].(string); len(jti) != 32 {
				t.Errorf("jti = %q, want 32 hex digits", jti)
			}
			if _, ok := tt.want["token_type"]; !ok && claims["token_type"] != "access" {
				t.Errorf("token_type = %v, want access", claims["token_type"])
			}
			for k, want := range tt.want {
				if got := claims[k]; got != want {
					t.Errorf("claim %s = %#v, want %#v", k, got, want)
				}
			}
		})
	}
}

func TestMintTokenJTIIsFresh(t *testing.T) {
	secret := []byte(strings.Repeat("k", 32))
	seen := map[string]bool{}
	for range 3 {
		raw, err := mintToken(secret, "HS256", time.Minute, nil, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		claims := jwt.MapClaims{}
		if _, _, err := jwt.NewParser().ParseUnverified(raw, claims); err != nil {
			t.Fatal(err)
		}
		jti := claims["jti"].(string)
		if seen[jti] {
			t.Fatalf("jti %s repeated", jti)
		}
		seen[jti] = true
	}
}

func TestMintTokenRefuses(t *testing.T) {
	secret32 := []byte(strings.Repeat("s", 32))
	tests := []struct {
		name   string
		secret []byte
		alg    string
		ttl    time.Duration
		pairs  []string
		errHas string
	}{
		{"short secret", secret32[:31], "HS256", time.Minute, nil, "at least 32"},
		{"PEM as secret", []byte("-----BEGIN PUBLIC KEY-----" + string(secret32)), "HS256", time.Minute, nil, "PEM"},
		{"secret too short for HS384", secret32, "HS384", time.Minute, nil, "too short for HS384"},
		{"secret too short for HS512", []byte(strings.Repeat("s", 48)), "HS512", time.Minute, nil, "too short for HS512"},
		{"asymmetric alg", secret32, "RS256", time.Minute, nil, "not supported"},
		{"alg none", secret32, "none", time.Minute, nil, "not supported"},
		{"zero ttl", secret32, "HS256", 0, nil, "positive"},
		{"negative ttl", secret32, "HS256", -time.Minute, nil, "positive"},
		{"claim without =", secret32, "HS256", time.Minute, []string{"sub"}, "key=value"},
		{"claim without key", secret32, "HS256", time.Minute, []string{"=x"}, "key=value"},
		{"exp claim", secret32, "HS256", time.Minute, []string{"exp=99999999999"}, "--ttl"},
		{"iat claim", secret32, "HS256", time.Minute, []string{"iat=1"}, "--ttl"},
		{"duplicate claim", secret32, "HS256", time.Minute, []string{"sub=a", "sub=b"}, "twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := mintToken(tt.secret, tt.alg, tt.ttl, tt.pairs, time.Now())
			if err == nil {
				t.Fatalf("mintToken succeeded (%d bytes), want an error containing %q", len(raw), tt.errHas)
			}
			if !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("error %q does not contain %q", err, tt.errHas)
			}
			if strings.Contains(err.Error(), string(tt.secret)) {
				t.Errorf("error %q contains the secret", err)
			}
		})
	}
}

// TestClaimTypingAgrees: `--claim k=v` and a Caddyfile user's `claim k v` give the same JSON
// value, whatever v is: one rule types both.
func TestClaimTypingAgrees(t *testing.T) {
	secret := []byte(strings.Repeat("s", 32))
	values := []struct{ arg, caddyfile string }{
		{"7", "7"}, {"-3", "-3"}, {"0", "0"}, {"9007199254740991", "9007199254740991"},
		{"9007199254740992", "9007199254740992"}, {"007", "007"}, {"-0", "-0"}, {"1.5", "1.5"},
		{"1e3", "1e3"}, {"true", "true"}, {"false", "false"}, {"True", "True"}, {"null", "null"},
		{"alice", "alice"}, {"a=b", "a=b"},
		// quoted: the command's value carries its quotes, the Caddyfile's are the Caddyfile's own
		{`"true"`, `"true"`}, {`"7"`, `"7"`}, {`"a b"`, `"a b"`}, {`""`, `""`},
	}
	for _, v := range values {
		raw, err := mintToken(secret, "HS256", time.Minute, []string{"c=" + v.arg}, time.Now())
		if err != nil {
			t.Fatalf("--claim c=%s: %v", v.arg, err)
		}
		claims := jwt.MapClaims{}
		if _, _, err := jwt.NewParser().ParseUnverified(raw, claims); err != nil {
			t.Fatal(err)
		}
		cfg, err := adapt(t, ":8080 {\n\tjwt_issuer /auth/* {\n\t\tuser alice "+aliceHash+" {\n\t\t\tclaim c "+v.caddyfile+"\n\t\t}\n\t}\n}\n")
		if err != nil {
			t.Fatalf("claim c %s: %v", v.caddyfile, err)
		}
		users, _ := issuerHandler(t, cfg)["users"].([]any)
		if len(users) != 1 {
			t.Fatalf("claim c %s: users %v", v.caddyfile, users)
		}
		fromCaddyfile := users[0].(map[string]any)["claims"].(map[string]any)["c"]
		if !reflect.DeepEqual(claims["c"], fromCaddyfile) {
			t.Errorf("--claim c=%s gives %#v, Caddyfile claim c %s gives %#v", v.arg, claims["c"], v.caddyfile, fromCaddyfile)
		}
	}
}
