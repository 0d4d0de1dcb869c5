package verify

import (
	"context"
	"net/http"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse/keys"
)

// BenchmarkVerify is the whole per-request verification of a djangorestframework-simplejwt
// shaped access token (header {"alg":…,"typ":"JWT"}, no kid) with one configured key: split,
// signature, claims decoding and the default policy (exp, iat, token_type).
func BenchmarkVerify(b *testing.B) {
	m := keyMaterial(b)
	for _, bc := range []struct {
		method jwt.SigningMethod
		priv   any
		key    *keys.Key
	}{
		{jwt.SigningMethodHS256, m.secret, m.hs},
		{jwt.SigningMethodRS256, m.rsa, m.rs},
		{jwt.SigningMethodES256, m.p256, m.es256},
		{jwt.SigningMethodEdDSA, m.ed, m.eddsa},
	} {
		raw := signed(b, bc.method, bc.priv, "", accessClaims())
		v := newVerifier(b, Policy{SafeClaims: []string{"user_id"}}, bc.key)
		ctx := context.Background()
		b.Run(bc.method.Alg(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkExtract is reading a bearer token from the Authorization header.
func BenchmarkExtract(b *testing.B) {
	raw := signed(b, jwt.SigningMethodHS256, keyMaterial(b).secret, "", accessClaims())
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+raw)
	var e Extractor
	b.ReportAllocs()
	for b.Loop() {
		if _, found, err := e.Extract(r); !found || err != nil {
			b.Fatal(found, err)
		}
	}
}
