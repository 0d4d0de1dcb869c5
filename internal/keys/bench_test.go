package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"math/big"
	"testing"
)

// BenchmarkVerify runs (*Key).Verify for each algorithm ("key") next to the least standard-library
// code that checks the same signature over the same bytes ("raw"), so the overhead of Verify is
// the ratio of the two lines. For HS256, "naive" is what a per-token hmac.New costs.
func BenchmarkVerify(b *testing.B) {
	secret := randomBytes(64)
	hs, err := FromSecret(secret, "")
	if err != nil {
		b.Fatal(err)
	}
	pemKey := func(pub any) *Key {
		k, err := ParsePEM(spkiPEM(b, pub), "")
		if err != nil {
			b.Fatal(err)
		}
		return k
	}
	rsaPriv, p256, p384, ed := testRSA(b, 2048), testEC(b, "P-256"), testEC(b, "P-384"), testEd(b)
	input := testSigningInput
	msg := []byte(input)

	ecdsaRaw := func(pub *ecdsa.PublicKey, h crypto.Hash, size int, sig []byte) func() bool {
		return func() bool {
			var d []byte
			if h == crypto.SHA256 {
				s := sha256.Sum256(msg)
				d = s[:]
			} else {
				s := sha512.Sum384(msg)
				d = s[:]
			}
			r, s := new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])
			return ecdsa.Verify(pub, d, r, s)
		}
	}

	tests := []struct {
		alg   string
		key   *Key
		priv  any
		raw   func(sig []byte) func() bool
		naive func(sig []byte) func() bool
	}{
		{"HS256", hs, secret, func(sig []byte) func() bool {
			m := hmac.New(sha256.New, secret)
			var buf [sha256.Size]byte
			return func() bool {
				m.Reset()
				m.Write(msg)
				return hmac.Equal(m.Sum(buf[:0]), sig)
			}
		}, func(sig []byte) func() bool {
			return func() bool {
				m := hmac.New(sha256.New, secret)
				m.Write([]byte(input))
				return hmac.Equal(m.Sum(nil), sig)
			}
		}},
		{"RS256", pemKey(&rsaPriv.PublicKey), rsaPriv, func(sig []byte) func() bool {
			return func() bool {
				d := sha256.Sum256(msg)
				return rsa.VerifyPKCS1v15(&rsaPriv.PublicKey, crypto.SHA256, d[:], sig) == nil
			}
		}, nil},
		{"PS256", pemKey(&rsaPriv.PublicKey), rsaPriv, func(sig []byte) func() bool {
			return func() bool {
				d := sha256.Sum256(msg)
				return rsa.VerifyPSS(&rsaPriv.PublicKey, crypto.SHA256, d[:], sig, pssOptions) == nil
			}
		}, nil},
		{"ES256", pemKey(&p256.PublicKey), p256, func(sig []byte) func() bool {
			return ecdsaRaw(&p256.PublicKey, crypto.SHA256, 32, sig)
		}, nil},
		{"ES384", pemKey(&p384.PublicKey), p384, func(sig []byte) func() bool {
			return ecdsaRaw(&p384.PublicKey, crypto.SHA384, 48, sig)
		}, nil},
		{"EdDSA", pemKey(ed.Public()), ed, func(sig []byte) func() bool {
			pub := ed.Public().(ed25519.PublicKey)
			return func() bool { return ed25519.Verify(pub, msg, sig) }
		}, nil},
	}
	for _, tt := range tests {
		sig := sign(b, tt.alg, tt.priv, input)
		b.Run(tt.alg+"/key", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := tt.key.Verify(tt.alg, input, sig); err != nil {
					b.Fatal(err)
				}
			}
		})
		run := func(name string, mk func([]byte) func() bool) {
			if mk == nil {
				return
			}
			f := mk(sig)
			b.Run(tt.alg+"/"+name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if !f() {
						b.Fatal("raw verification failed")
					}
				}
			})
		}
		run("raw", tt.raw)
		run("naive", tt.naive)
	}
}

// BenchmarkCandidates is the per-request key lookup in a set of a few keys.
func BenchmarkCandidates(b *testing.B) {
	s := NewSet(
		&Key{ID: "a", Algs: []string{"RS256"}},
		&Key{ID: "b", Algs: []string{"RS256"}},
		&Key{ID: "c", Algs: []string{"ES256"}},
		&Key{Algs: []string{"HS256"}},
	)
	var buf [4]*Key
	b.ReportAllocs()
	for b.Loop() {
		if len(s.Candidates(buf[:0], "b", "RS256")) != 1 {
			b.Fatal("wrong candidates")
		}
	}
}

// BenchmarkMultiCurrent is the steady-state cost of a combined provider.
func BenchmarkMultiCurrent(b *testing.B) {
	r := new(swappable)
	r.set.Store(NewSet(&Key{ID: "r"}))
	m := NewMulti(Static{NewSet(&Key{ID: "s"})}, r)
	b.ReportAllocs()
	for b.Loop() {
		if m.Current().Len() != 2 {
			b.Fatal("wrong set")
		}
	}
}
