package mint

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/users"
)

func payloadMap(t *testing.T, raw string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestAMRAndUsername: amr is in both tokens of a login and in every token minted from the
// refresh token; the username only in refresh tokens (and their successors); a user's own amr
// or usr claim never makes it into a token.
func TestAMRAndUsername(t *testing.T) {
	c := newClock()
	ring := StaticRing(signerFor(t, "HS256"))
	m := newTestMinter(t, Config{Now: c.Now, RefreshUsername: true}, ring)
	id := users.Identity{Username: "alice", Claims: map[string]any{"amr": []any{"hwk"}, "usr": "mallory", "role": "x"}}
	access, refresh, err := m.Pair(id, "pwd", "otp")
	if err != nil {
		t.Fatal(err)
	}
	want := `["pwd","otp"]`
	check := func(what, raw string, wantUser string) {
		t.Helper()
		p := payloadMap(t, raw)
		amr, _ := json.Marshal(p["amr"])
		if string(amr) != want {
			t.Errorf("%s: amr %s, want %s", what, amr, want)
		}
		if u, _ := p["usr"].(string); u != wantUser {
			t.Errorf("%s: usr %q, want %q", what, u, wantUser)
		}
		if p["role"] != "x" {
			t.Errorf("%s: the user's other claims are lost: %v", what, p)
		}
	}
	check("access", access.Raw, "")
	check("refresh", refresh.Raw, "alice")
	rc := refreshClaims(t, ring, c.Now, refresh.Raw)
	a2, err := m.Access(rc)
	if err != nil {
		t.Fatal(err)
	}
	check("access from refresh", a2.Raw, "")
	next, err := m.Rotate(rc)
	if err != nil {
		t.Fatal(err)
	}
	check("rotated refresh", next.Raw, "alice")

	// Without amr (no second factors configured): no amr claim, no usr.
	plain := newTestMinter(t, Config{Now: c.Now}, ring)
	a, r, err := plain.Pair(id)
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{a.Raw, r.Raw} {
		if p := payloadMap(t, raw); p["amr"] != nil || p["usr"] != nil {
			t.Errorf("a token without second factors has amr or usr: %v", p)
		}
	}
}
