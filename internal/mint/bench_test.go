package mint

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/users"
)

// benchSigner is the key each algorithm runs with in production: the HS256 secret of a
// configuration, or a generated key (RSA 3072 for RS256).
func benchSigner(b *testing.B, alg string) *Signer {
	b.Helper()
	if alg == "HS256" {
		return signerFor(b, alg)
	}
	s, err := Generate(alg)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

var benchAlgs = []string{"HS256", "ES256", "EdDSA", "RS256"}

// benchIdentity is a typical user: an id claim and a role list.
var benchIdentity = users.Identity{Username: "alice", Claims: map[string]any{"user_id": float64(7), "roles": []any{"admin", "editor"}}}

// BenchmarkPair is the minting cost of a login: two tokens, claims encoded and signed.
func BenchmarkPair(b *testing.B) {
	for _, alg := range benchAlgs {
		b.Run(alg, func(b *testing.B) {
			m := newTestMinter(b, Config{Issuer: "https://auth.example", Now: newClock().Now}, StaticRing(benchSigner(b, alg)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := m.Pair(benchIdentity); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAccess is the minting cost of a refresh: one access token from verified claims.
func BenchmarkAccess(b *testing.B) {
	for _, alg := range benchAlgs {
		b.Run(alg, func(b *testing.B) {
			c := newClock()
			ring := StaticRing(benchSigner(b, alg))
			m := newTestMinter(b, Config{Issuer: "https://auth.example", Now: c.Now}, ring)
			_, refresh, err := m.Pair(benchIdentity)
			if err != nil {
				b.Fatal(err)
			}
			claims := refreshClaims(b, ring, c.Now, refresh.Raw)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Access(claims); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
