package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"hash"
	"math/big"
	"sync"
	"testing"
)

// Keys are generated once per test binary: RSA generation is slow under the race detector.
var (
	rsaOnce          sync.Once
	rsa1024, rsa2048 *rsa.PrivateKey
	ecOnce           sync.Once
	ecKeys           map[string]*ecdsa.PrivateKey // by JWK crv name
	edOnce           sync.Once
	edPriv           ed25519.PrivateKey
)

func testRSA(t testing.TB, bits int) *rsa.PrivateKey {
	t.Helper()
	rsaOnce.Do(func() {
		var err error
		if rsa1024, err = rsa.GenerateKey(rand.Reader, 1024); err != nil {
			panic(err)
		}
		if rsa2048, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	if bits == 1024 {
		return rsa1024
	}
	return rsa2048
}

func testEC(t testing.TB, crv string) *ecdsa.PrivateKey {
	t.Helper()
	ecOnce.Do(func() {
		ecKeys = map[string]*ecdsa.PrivateKey{}
		for name, c := range map[string]elliptic.Curve{"P-224": elliptic.P224(), "P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()} {
			k, err := ecdsa.GenerateKey(c, rand.Reader)
			if err != nil {
				panic(err)
			}
			ecKeys[name] = k
		}
	})
	return ecKeys[crv]
}

func testEd(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	edOnce.Do(func() {
		var err error
		if _, edPriv, err = ed25519.GenerateKey(rand.Reader); err != nil {
			panic(err)
		}
	})
	return edPriv
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}

// pemOf encodes der as one PEM block.
func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// spkiPEM is pub as a "PUBLIC KEY" block.
func spkiPEM(t testing.TB, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pemOf("PUBLIC KEY", der)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwkJSON builds a JWK object from members; extra members override.
func jwkJSON(members map[string]any) string {
	b, err := json.Marshal(members)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func setJSON(jwks ...string) []byte {
	s := `{"keys":[`
	for i, j := range jwks {
		if i > 0 {
			s += ","
		}
		s += j
	}
	return []byte(s + `]}`)
}

func rsaJWK(pub *rsa.PublicKey, extra map[string]any) string {
	m := map[string]any{"kty": "RSA", "n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes())}
	for k, v := range extra {
		m[k] = v
	}
	return jwkJSON(m)
}

func ecJWK(pub *ecdsa.PublicKey, crv string, extra map[string]any) string {
	size := (pub.Curve.Params().BitSize + 7) / 8
	m := map[string]any{"kty": "EC", "crv": crv, "x": b64(pub.X.FillBytes(make([]byte, size))), "y": b64(pub.Y.FillBytes(make([]byte, size)))}
	for k, v := range extra {
		m[k] = v
	}
	return jwkJSON(m)
}

func edJWK(pub ed25519.PublicKey, extra map[string]any) string {
	m := map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64(pub)}
	for k, v := range extra {
		m[k] = v
	}
	return jwkJSON(m)
}

func octJWK(secret []byte, extra map[string]any) string {
	m := map[string]any{"kty": "oct", "k": b64(secret)}
	for k, v := range extra {
		m[k] = v
	}
	return jwkJSON(m)
}

// testSigningInput is a realistic "<header>.<payload>".
const testSigningInput = "eyJhbGciOiJIUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0." +
	"eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyLCJleHAiOjQxMDI0NDQ4MDB9"

func algHash(alg string) crypto.Hash {
	switch alg[2:] {
	case "384":
		return crypto.SHA384
	case "512":
		return crypto.SHA512
	}
	return crypto.SHA256
}

func digestOf(h crypto.Hash, s string) []byte {
	var hh hash.Hash
	switch h {
	case crypto.SHA384:
		hh = sha512.New384()
	case crypto.SHA512:
		hh = sha512.New()
	default:
		hh = sha256.New()
	}
	hh.Write([]byte(s))
	return hh.Sum(nil)
}

// sign makes a JWS signature of input for alg with priv ([]byte secret or a crypto private key).
func sign(t testing.TB, alg string, priv any, input string) []byte {
	t.Helper()
	switch alg {
	case "HS256", "HS384", "HS512":
		var h func() hash.Hash
		switch alg {
		case "HS256":
			h = sha256.New
		case "HS384":
			h = sha512.New384
		default:
			h = sha512.New
		}
		m := hmac.New(h, priv.([]byte))
		m.Write([]byte(input))
		return m.Sum(nil)
	case "RS256", "RS384", "RS512":
		h := algHash(alg)
		sig, err := rsa.SignPKCS1v15(rand.Reader, priv.(*rsa.PrivateKey), h, digestOf(h, input))
		if err != nil {
			t.Fatal(err)
		}
		return sig
	case "PS256", "PS384", "PS512":
		h := algHash(alg)
		sig, err := rsa.SignPSS(rand.Reader, priv.(*rsa.PrivateKey), h, digestOf(h, input), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		if err != nil {
			t.Fatal(err)
		}
		return sig
	case "ES256", "ES384", "ES512":
		k := priv.(*ecdsa.PrivateKey)
		r, s, err := ecdsa.Sign(rand.Reader, k, digestOf(algHash(alg), input))
		if err != nil {
			t.Fatal(err)
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		sig := make([]byte, 2*size)
		r.FillBytes(sig[:size])
		s.FillBytes(sig[size:])
		return sig
	case "EdDSA":
		return ed25519.Sign(priv.(ed25519.PrivateKey), []byte(input))
	}
	t.Fatalf("sign: unknown alg %s", alg)
	return nil
}
