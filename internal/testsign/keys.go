package testsign

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"sync"
)

// The shared keys are made once per test binary: RSA generation is slow, the more so under the
// race detector. A test that needs a key nobody else trusts makes a new one.
var (
	sharedMu  sync.Mutex
	sharedRSA = map[int]*rsa.PrivateKey{}
	sharedEC  = map[string]*ecdsa.PrivateKey{}
	sharedEd  = map[string]ed25519.PrivateKey{}
)

// RSA is the test binary's RSA key of the given size.
func RSA(bits int) *rsa.PrivateKey { return shared(sharedRSA, bits, NewRSA) }

// EC is the test binary's ECDSA key on crv, by its JWK name: P-224, P-256, P-384 or P-521.
func EC(crv string) *ecdsa.PrivateKey { return shared(sharedEC, crv, NewEC) }

// Ed25519 is the test binary's Ed25519 key.
func Ed25519() ed25519.PrivateKey {
	return shared(sharedEd, "", func(string) ed25519.PrivateKey { return NewEd25519() })
}

// shared is the key of m under k, made by newKey the first time.
func shared[K comparable, V any](m map[K]V, k K, newKey func(K) V) V {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	v, ok := m[k]
	if !ok {
		v = newKey(k)
		m[k] = v
	}
	return v
}

// NewRSA is a new RSA key of the given size.
func NewRSA(bits int) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		panic(fmt.Sprintf("testsign: RSA %d: %v", bits, err))
	}
	return k
}

// NewEC is a new ECDSA key on crv (P-224, P-256, P-384 or P-521).
func NewEC(crv string) *ecdsa.PrivateKey {
	curves := map[string]elliptic.Curve{"P-224": elliptic.P224(), "P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()}
	c, ok := curves[crv]
	if !ok {
		panic("testsign: no curve " + crv)
	}
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		panic(fmt.Sprintf("testsign: %s: %v", crv, err))
	}
	return k
}

// NewEd25519 is a new Ed25519 key.
func NewEd25519() ed25519.PrivateKey {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(fmt.Sprintf("testsign: Ed25519: %v", err))
	}
	return k
}

// Random is n random bytes, for secrets.
func Random(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("testsign: random: %v", err))
	}
	return b
}
