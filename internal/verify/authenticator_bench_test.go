package verify

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse/internal/keys"
)

// BenchmarkVerify is the whole per-request verification of a djangorestframework-simplejwt
// shaped access token (header {"alg":…,"typ":"JWT"}, no kid) with one configured key, for each
// algorithm, in four lines measured in the same run:
//
//   - uncached: split, signature, claims decoding and the default policy (exp, iat, token_type);
//   - cached:   the same token again, answered by the verified-token cache;
//   - raw:      only the standard library's signature check of the same bytes (the crypto limit);
//   - golang-jwt: jwt.Parse into MapClaims with the same key, the generic path for comparison.
//
// uncached/raw is Gatehouse's overhead over the crypto.
func BenchmarkVerify(b *testing.B) {
	m := keyMaterial(b)
	for _, bc := range []struct {
		method jwt.SigningMethod
		priv   any
		pub    any // what golang-jwt verifies with
		key    *keys.Key
	}{
		{jwt.SigningMethodHS256, m.secret, m.secret, m.hs},
		{jwt.SigningMethodRS256, m.rsa, &m.rsa.PublicKey, m.rs},
		{jwt.SigningMethodES256, m.p256, &m.p256.PublicKey, m.es256},
		{jwt.SigningMethodEdDSA, m.ed, m.ed.Public(), m.eddsa},
	} {
		alg := bc.method.Alg()
		raw := signed(b, bc.method, bc.priv, "", accessClaims())
		ctx := context.Background()
		for _, c := range []struct {
			name string
			size int
		}{{"uncached", -1}, {"cached", 0}} {
			v, err := New(Policy{SafeClaims: []string{"user_id"}, CacheSize: c.size}, keys.Static{Set: keys.NewSet(bc.key)}, testClock)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(alg+"/"+c.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := v.Verify(ctx, raw); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		check := rawCheck(b, alg, bc.pub, raw)
		b.Run(alg+"/raw", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !check() {
					b.Fatal("raw verification failed")
				}
			}
		})
		parser := jwt.NewParser(jwt.WithValidMethods([]string{alg}), jwt.WithTimeFunc(testClock))
		keyFunc := func(*jwt.Token) (any, error) { return bc.pub, nil }
		b.Run(alg+"/golang-jwt", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := parser.Parse(raw, keyFunc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// rawCheck returns the least standard-library code that checks raw's signature with pub: the
// signing input is hashed and the signature verified, nothing is decoded but the signature.
func rawCheck(b *testing.B, alg string, pub any, raw string) func() bool {
	i := strings.LastIndexByte(raw, '.')
	input := []byte(raw[:i])
	sig, err := base64.RawURLEncoding.DecodeString(raw[i+1:])
	if err != nil {
		b.Fatal(err)
	}
	switch alg {
	case "HS256":
		mac := hmac.New(sha256.New, pub.([]byte))
		var buf [sha256.Size]byte
		return func() bool {
			mac.Reset()
			mac.Write(input)
			return hmac.Equal(mac.Sum(buf[:0]), sig)
		}
	case "RS256":
		return func() bool {
			d := sha256.Sum256(input)
			return rsa.VerifyPKCS1v15(pub.(*rsa.PublicKey), crypto.SHA256, d[:], sig) == nil
		}
	case "ES256":
		return func() bool {
			d := sha256.Sum256(input)
			r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
			return ecdsa.Verify(pub.(*ecdsa.PublicKey), d[:], r, s)
		}
	case "EdDSA":
		return func() bool { return ed25519.Verify(pub.(ed25519.PublicKey), input, sig) }
	}
	b.Fatal(fmt.Sprintf("no raw check for %s", alg))
	return nil
}

// BenchmarkVerifyDistinct is the cache's worst case: every token is new (a pool far larger than
// the cache, cycled), so each call verifies in full. Once the cache has filled, a token seen once
// is not inserted (see cache.go): it only takes a doorkeeper slot and evicts the oldest entry.
func BenchmarkVerifyDistinct(b *testing.B) {
	m := keyMaterial(b)
	v := newVerifier(b, Policy{SafeClaims: []string{"user_id"}, CacheSize: 1024}, m.hs)
	toks := make([]string, 8192)
	for i := range toks {
		toks[i] = signed(b, jwt.SigningMethodHS256, m.secret, "", with(accessClaims(), "jti", fmt.Sprintf("%032x", i)))
	}
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := v.Verify(ctx, toks[i%len(toks)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkVerifyDistinctCold is BenchmarkVerifyDistinct as a server sees it: before each
// verification, 2 MiB of writes push Verify's code and data out of the L1 and L2 caches, as a
// request's I/O, parsing and allocation do in Caddy. ns/op is the verification alone; in
// process and warm it is about half of this. The pool (50,000) and the cache (default size, in
// its steady state) are those of bench/e2e.sh's distinct-hs256; "nocache" is cache_size off.
func BenchmarkVerifyDistinctCold(b *testing.B) {
	m := keyMaterial(b)
	toks := make([]string, 50000)
	for i := range toks {
		toks[i] = signed(b, jwt.SigningMethodHS256, m.secret, "", with(accessClaims(), "jti", fmt.Sprintf("%032x", i)))
	}
	for _, bc := range []struct {
		name string
		size int
	}{{"cache", 0}, {"nocache", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			v := newVerifier(b, Policy{SafeClaims: []string{"user_id"}, CacheSize: bc.size}, m.hs)
			ctx := context.Background()
			i := 0
			for ; i < 2*len(toks); i++ { // past the cache's filling, into its steady state
				if _, err := v.Verify(ctx, toks[i%len(toks)]); err != nil {
					b.Fatal(err)
				}
			}
			evict := make([]byte, 2<<20)
			var verifying, clock time.Duration
			b.ReportAllocs()
			for b.Loop() {
				raw := toks[i%len(toks)]
				i++
				coldCaches(evict, raw)
				t := time.Now()
				if _, err := v.Verify(ctx, raw); err != nil {
					b.Fatal(err)
				}
				verifying += time.Since(t)
				// The same again without Verify: what reading the clock costs with cold caches.
				coldCaches(evict, raw)
				t = time.Now()
				clock += time.Since(t)
			}
			b.ReportMetric(float64(verifying-clock)/float64(b.N), "ns/op")
		})
	}
}

// coldSink keeps coldCaches' reads from being optimized away.
var coldSink byte

// coldCaches writes every cache line of evict, then reads raw back into the cache, as Caddy
// has just parsed the header that holds it.
func coldCaches(evict []byte, raw string) {
	for i := 0; i < len(evict); i += 64 {
		evict[i]++
	}
	for i := 0; i < len(raw); i += 64 {
		coldSink += raw[i]
	}
	coldSink += raw[len(raw)-1] // the last line, which the steps above may miss
}

// BenchmarkVerifyForged is a flood of distinct tokens with bad signatures: each costs the split
// and one signature check, and none is cached (allocations stay those of a refusal).
func BenchmarkVerifyForged(b *testing.B) {
	m := keyMaterial(b)
	v := newVerifier(b, Policy{SafeClaims: []string{"user_id"}}, m.hs)
	other := []byte("an attacker's secret of at least 32 bytes")
	toks := make([]string, 4096)
	for i := range toks {
		toks[i] = signed(b, jwt.SigningMethodHS256, other, "", with(accessClaims(), "jti", fmt.Sprintf("%032x", i)))
	}
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := v.Verify(ctx, toks[i%len(toks)]); err == nil {
			b.Fatal("forged token accepted")
		}
		i++
	}
	if n := v.cache.len(); n != 0 {
		b.Fatalf("%d forged tokens cached", n)
	}
}

// BenchmarkVerifyCachedParallel is cache hits from every core at once: the shards' read locks
// are what is shared.
func BenchmarkVerifyCachedParallel(b *testing.B) {
	m := keyMaterial(b)
	v := newVerifier(b, Policy{SafeClaims: []string{"user_id"}}, m.hs)
	toks := make([]string, 64)
	for i := range toks {
		toks[i] = signed(b, jwt.SigningMethodHS256, m.secret, "", with(accessClaims(), "jti", fmt.Sprint(i)))
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := v.Verify(context.Background(), toks[i%len(toks)]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
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
