package mint

import (
	"context"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse/internal/token"
	"github.com/gatehouse-dev/gatehouse/internal/users"
	"github.com/gatehouse-dev/gatehouse/internal/verify"
)

var jtiForm = regexp.MustCompile(`^[0-9a-f]{32}$`)

func newTestMinter(t testing.TB, cfg Config, ring *Ring) *Minter {
	t.Helper()
	m, err := NewMinter(cfg, ring)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// refreshClaims verifies a refresh token as the refresh endpoint does and returns its claims.
func refreshClaims(t testing.TB, ring *Ring, now func() time.Time, raw string) *token.Claims {
	t.Helper()
	v, err := verify.New(verify.Policy{TokenType: "refresh", CacheSize: -1}, ring, now)
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// claimsOf parses a payload as the verifier would, for tokens a test builds by hand.
func claimsOf(t testing.TB, payload string) *token.Claims {
	t.Helper()
	c, err := token.ParseClaims([]byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Pair mints simplejwt's layout byte for byte: the claims in the fixed order, user claims sorted
// after the issuer's, and user claims that name a reserved claim (in any case) dropped. Both
// tokens pass our verifier (access and refresh policies) and golang-jwt, for each algorithm.
func TestPairLayout(t *testing.T) {
	id := users.Identity{Username: "alice", Claims: map[string]any{
		"zeta": "z", "roles": []any{"admin", "editor"}, "alpha": true, "user_id": float64(7),
		"exp": float64(1), "Token_Type": "x", "iss": "evil", "AUD": "evil", "fam": "x", "nbf": float64(5),
		"jti": "mine", "iat": float64(2), "realm": map[string]any{"b": 1, "a": "<&>"},
	}}
	now := testNow.Unix()
	for _, alg := range []string{"HS256", "ES256", "EdDSA", "RS256"} {
		t.Run(alg, func(t *testing.T) {
			c := newClock()
			ring := StaticRing(signerFor(t, alg))
			m := newTestMinter(t, Config{Issuer: "https://auth.example", Audience: []string{"api"}, Now: c.Now}, ring)
			access, refresh, err := m.Pair(id)
			if err != nil {
				t.Fatal(err)
			}
			if !jtiForm.MatchString(access.JTI) || !jtiForm.MatchString(refresh.JTI) || access.JTI == refresh.JTI {
				t.Fatalf("jti %q %q", access.JTI, refresh.JTI)
			}
			if access.Family != "" || refresh.Family != refresh.JTI {
				t.Fatalf("family %q %q", access.Family, refresh.Family)
			}
			if !access.Exp.Equal(testNow.Add(5*time.Minute)) || !refresh.Exp.Equal(testNow.Add(24*time.Hour)) {
				t.Fatalf("exp %s %s", access.Exp, refresh.Exp)
			}
			const rest = `,"user_id":7,"iss":"https://auth.example","aud":"api"`
			const extra = `,"alpha":true,"realm":{"a":"\u003c\u0026\u003e","b":1},"roles":["admin","editor"],"zeta":"z"}`
			_, got := parts(t, access.Raw)
			want := `{"token_type":"access","exp":` + itoa(now+300) + `,"iat":` + itoa(now) + `,"jti":"` + access.JTI + `"` + rest + extra
			if got != want {
				t.Fatalf("access payload\n got %s\nwant %s", got, want)
			}
			_, got = parts(t, refresh.Raw)
			want = `{"token_type":"refresh","exp":` + itoa(now+86400) + `,"iat":` + itoa(now) + `,"jti":"` + refresh.JTI + `"` + rest +
				`,"fam":"` + refresh.JTI + `"` + extra
			if got != want {
				t.Fatalf("refresh payload\n got %s\nwant %s", got, want)
			}

			verifyOurs(t, ring, c.Now, verify.TokenTypeDefault, access.Raw)
			verifyOurs(t, ring, c.Now, "refresh", refresh.Raw)
			for _, raw := range []string{access.Raw, refresh.Raw} {
				mc := verifyGolangJWT(t, ring, c.Now, raw)
				if mc["iss"] != "https://auth.example" || mc["user_id"] != float64(7) {
					t.Fatalf("golang-jwt claims %v", mc)
				}
			}
			// The access-token policy (jwt_auth's default) refuses the refresh token.
			v, _ := verify.New(verify.Policy{CacheSize: -1}, ring, c.Now)
			if _, err := v.Verify(context.Background(), refresh.Raw); err == nil {
				t.Fatal("a refresh token passed as an access token")
			}
		})
	}
}

// The user id is the user's claim of that name when present, else the username.
func TestPairUserID(t *testing.T) {
	tests := []struct {
		name    string
		claim   string
		id      users.Identity
		want    string
		wantErr string
	}{
		{"username", "", users.Identity{Username: "alice"}, `"user_id":"alice"`, ""},
		{"claim number", "", users.Identity{Username: "alice", Claims: map[string]any{"user_id": float64(7)}}, `"user_id":7`, ""},
		{"claim string", "", users.Identity{Username: "alice", Claims: map[string]any{"user_id": "7"}}, `"user_id":"7"`, ""},
		{"null claim", "", users.Identity{Username: "alice", Claims: map[string]any{"user_id": nil}}, `"user_id":"alice"`, ""},
		{"sub", "sub", users.Identity{Username: "alice", Claims: map[string]any{"user_id": "7"}}, `"sub":"alice","user_id":"7"`, ""},
		{"no id", "", users.Identity{}, "", "neither a username nor a user_id claim"},
	}
	ring := StaticRing(signerFor(t, "HS256"))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newTestMinter(t, Config{UserIDClaim: tt.claim, Now: newClock().Now}, ring)
			access, _, err := m.Pair(tt.id)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, p := parts(t, access.Raw); !strings.Contains(p, `"jti":"`+access.JTI+`",`+tt.want+`}`) {
				t.Fatalf("payload %s, want %s", p, tt.want)
			}
		})
	}
}

// User claims that cannot make a claim set verifiers accept are an error, not a bad token.
func TestPairClaimErrors(t *testing.T) {
	tests := []struct {
		name    string
		claims  map[string]any
		wantErr string
	}{
		{"NaN", map[string]any{"score": math.NaN()}, `user claim "score" cannot be encoded`},
		{"case variants", map[string]any{"roles": "a", "Roles": "b"}, "differ only in case"},
		{"dotted collision", map[string]any{"a.b": 1, "a": map[string]any{"b": 2}}, "collide with dotted names"},
	}
	ring := StaticRing(signerFor(t, "HS256"))
	m := newTestMinter(t, Config{}, ring)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := m.Pair(users.Identity{Username: "alice", Claims: tt.claims})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// Access copies the refresh token's claims but exp, iat, jti, nbf, token_type and fam, which it
// mints fresh (nbf and fam not at all).
func TestAccess(t *testing.T) {
	c := newClock()
	ring := StaticRing(signerFor(t, "ES256"))
	m := newTestMinter(t, Config{AccessTTL: 10 * time.Minute, Now: c.Now}, ring)
	// A refresh token as another simplejwt-compatible issuer might write it, with nbf, iss and aud.
	now := c.Now().Unix()
	raw, _ := ring.Signer().Sign([]byte(`{"token_type":"refresh","exp":` + itoa(now+3600) + `,"iat":` + itoa(now) +
		`,"nbf":` + itoa(now) + `,"jti":"0123456789abcdef0123456789abcdef","user_id":42,"iss":"i","aud":["a","b"],"fam":"f","roles":["x"],"Name":"n"}`))
	c.Add(time.Minute)
	rc := refreshClaims(t, ring, c.Now, raw)
	at, err := m.Access(rc)
	if err != nil {
		t.Fatal(err)
	}
	_, p := parts(t, at.Raw)
	now = c.Now().Unix()
	want := `{"token_type":"access","exp":` + itoa(now+600) + `,"iat":` + itoa(now) + `,"jti":"` + at.JTI +
		`","user_id":42,"iss":"i","aud":["a","b"],"Name":"n","roles":["x"]}`
	if p != want {
		t.Fatalf("access payload\n got %s\nwant %s", p, want)
	}
	if at.JTI == "0123456789abcdef0123456789abcdef" || at.Family != "" || !at.Exp.Equal(c.Now().Add(10*time.Minute)) {
		t.Fatalf("token %+v", at)
	}
	verifyOurs(t, ring, c.Now, "", at.Raw)
	verifyGolangJWT(t, ring, c.Now, at.Raw)

	// Configured iss and aud win over the refresh token's.
	m2 := newTestMinter(t, Config{Issuer: "mine", Audience: []string{"x", "y"}, Now: c.Now}, ring)
	at, err = m2.Access(rc)
	if err != nil {
		t.Fatal(err)
	}
	if _, p := parts(t, at.Raw); !strings.Contains(p, `"user_id":42,"iss":"mine","aud":["x","y"],"Name"`) {
		t.Fatalf("payload %s", p)
	}
}

// Access and Rotate refuse what is not a refresh token with a user id, whatever the caller's
// verification policy checked.
func TestAccessRefuses(t *testing.T) {
	c := newClock()
	ring := StaticRing(signerFor(t, "HS256"))
	m := newTestMinter(t, Config{Now: c.Now}, ring)
	exp := itoa(c.Now().Unix() + 60)
	tests := []struct {
		name    string
		claims  *token.Claims
		wantErr string
	}{
		{"nil", nil, "no refresh token claims"},
		{"access token", claimsOf(t, `{"token_type":"access","exp":`+exp+`,"jti":"j","user_id":1}`), "token_type is not refresh"},
		{"no token_type", claimsOf(t, `{"exp":`+exp+`,"jti":"j","user_id":1}`), "token_type is not refresh"},
		{"no user id", claimsOf(t, `{"token_type":"refresh","exp":`+exp+`,"jti":"j","sub":"1"}`), "no user_id claim"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := m.Access(tt.claims); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Access: err = %v, want %q", err, tt.wantErr)
			}
			if _, err := m.Rotate(tt.claims); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Rotate: err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// Rotate keeps the claims, the family and the exp of the login; jti and iat are new.
func TestRotate(t *testing.T) {
	c := newClock()
	ring := StaticRing(signerFor(t, "EdDSA"))
	m := newTestMinter(t, Config{RefreshTTL: 2 * time.Hour, Now: c.Now}, ring)
	_, first, err := m.Pair(users.Identity{Username: "bob", Claims: map[string]any{"roles": []any{"r"}}})
	if err != nil {
		t.Fatal(err)
	}
	cur := first
	for i := 1; i <= 3; i++ {
		c.Add(30 * time.Minute)
		next, err := m.Rotate(refreshClaims(t, ring, c.Now, cur.Raw))
		if err != nil {
			t.Fatal(err)
		}
		if next.Family != first.JTI || !next.Exp.Equal(first.Exp) || next.JTI == cur.JTI || !jtiForm.MatchString(next.JTI) {
			t.Fatalf("rotation %d: %+v", i, next)
		}
		_, p := parts(t, next.Raw)
		want := `{"token_type":"refresh","exp":` + itoa(first.Exp.Unix()) + `,"iat":` + itoa(c.Now().Unix()) + `,"jti":"` + next.JTI +
			`","user_id":"bob","fam":"` + first.JTI + `","roles":["r"]}`
		if p != want {
			t.Fatalf("rotation %d payload\n got %s\nwant %s", i, p, want)
		}
		verifyGolangJWT(t, ring, c.Now, next.Raw)
		cur = next
	}
	// The family ends with the login's lifetime, however active the user.
	c.Set(first.Exp)
	if _, err := m.Rotate(claimsOf(t, mustPayload(t, cur.Raw))); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("err = %v", err)
	}
}

func mustPayload(t testing.TB, raw string) string {
	_, p := parts(t, raw)
	return p
}

// A refresh token without a family (simplejwt's own, sharing the secret) starts one named by its
// jti; a family or exp that is not what it should be is an error.
func TestRotateFamily(t *testing.T) {
	c := newClock()
	ring := StaticRing(signerFor(t, "HS256"))
	m := newTestMinter(t, Config{Now: c.Now}, ring)
	exp := itoa(c.Now().Unix() + 3600)
	tests := []struct {
		name       string
		payload    string
		wantFamily string
		wantErr    string
	}{
		{"simplejwt token", `{"token_type":"refresh","exp":` + exp + `,"iat":1,"jti":"5fe0c36d0a404312bb57b2607662fdf9","user_id":1}`, "5fe0c36d0a404312bb57b2607662fdf9", ""},
		{"fractional exp", `{"token_type":"refresh","exp":` + exp + `.75,"jti":"j","fam":"f","user_id":1}`, "f", ""},
		{"numeric fam", `{"token_type":"refresh","exp":` + exp + `,"jti":"j","fam":1,"user_id":1}`, "", "no family"},
		{"no jti or fam", `{"token_type":"refresh","exp":` + exp + `,"user_id":1}`, "", "no family"},
		{"string exp", `{"token_type":"refresh","exp":"` + exp + `","jti":"j","user_id":1}`, "", "exp is not a valid number"},
		{"no exp", `{"token_type":"refresh","jti":"j","user_id":1}`, "", "exp is not a valid number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := m.Rotate(claimsOf(t, tt.payload))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tok.Family != tt.wantFamily || tok.Exp.Unix() != c.Now().Unix()+3600 {
				t.Fatalf("token %+v", tok)
			}
			if !strings.Contains(mustPayload(t, tok.Raw), `"exp":`+exp+`,`) || !strings.Contains(mustPayload(t, tok.Raw), `"fam":"`+tt.wantFamily+`"`) {
				t.Fatalf("payload %s", mustPayload(t, tok.Raw))
			}
			verifyOurs(t, ring, c.Now, "refresh", tok.Raw)
		})
	}
}

// Every token gets its own random jti.
func TestJTIUnique(t *testing.T) {
	m := newTestMinter(t, Config{}, StaticRing(signerFor(t, "HS256")))
	seen := make(map[string]bool)
	for range 5000 {
		a, r, err := m.Pair(users.Identity{Username: "u"})
		if err != nil {
			t.Fatal(err)
		}
		for _, jti := range []string{a.JTI, r.JTI} {
			if seen[jti] || !jtiForm.MatchString(jti) {
				t.Fatalf("jti %q repeated or malformed", jti)
			}
			seen[jti] = true
		}
	}
}

// The minter signs with the ring's current key, following a rotation without being remade.
func TestMinterFollowsRotation(t *testing.T) {
	c := newClock()
	cfg := RingConfig{Storage: newMemStorage(), Key: "k", Alg: "EdDSA", RotateEvery: time.Hour, KeepFor: 24 * time.Hour, Now: c.Now}
	ring := mustLoadRing(t, cfg)
	m := newTestMinter(t, Config{Now: c.Now}, ring)
	k0 := ring.Signer().Kid
	c.Add(time.Hour)
	if err := ring.Maintain(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.Add(publishAhead)
	a, _, err := m.Pair(users.Identity{Username: "u"})
	if err != nil {
		t.Fatal(err)
	}
	tok, _, _ := jwt.NewParser().ParseUnverified(a.Raw, jwt.MapClaims{})
	if kid := tok.Header["kid"]; kid == k0 || kid != ring.Signer().Kid {
		t.Fatalf("kid %v, first key %s", kid, k0)
	}
	verifyOurs(t, ring, c.Now, "", a.Raw)
}

func TestNewMinter(t *testing.T) {
	ring := StaticRing(signerFor(t, "HS256"))
	m := newTestMinter(t, Config{}, ring)
	if a, r := m.Lifetimes(); a != 5*time.Minute || r != 24*time.Hour {
		t.Fatalf("default lifetimes %s %s", a, r)
	}
	m = newTestMinter(t, Config{AccessTTL: time.Minute, RefreshTTL: time.Hour}, ring)
	if a, r := m.Lifetimes(); a != time.Minute || r != time.Hour {
		t.Fatalf("lifetimes %s %s", a, r)
	}
	tests := []struct {
		name    string
		cfg     Config
		ring    *Ring
		wantErr string
	}{
		{"no ring", Config{}, nil, "no key ring"},
		{"negative", Config{AccessTTL: -time.Second}, ring, "out of range"},
		{"sub-second", Config{RefreshTTL: time.Millisecond}, ring, "at least 1s"},
		{"user id exp", Config{UserIDClaim: "exp"}, ring, "sets itself"},
		{"user id JTI", Config{UserIDClaim: "JTI"}, ring, "sets itself"},
		{"user id fam", Config{UserIDClaim: FamilyClaim}, ring, "sets itself"},
		{"empty audience", Config{Audience: []string{"a", ""}}, ring, "empty value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewMinter(tt.cfg, tt.ring); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}
