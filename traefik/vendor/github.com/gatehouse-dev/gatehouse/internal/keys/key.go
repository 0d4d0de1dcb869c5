// Package keys holds verification key material: HMAC secrets, PEM public keys and JWK Sets, local
// or fetched from a URL. Every key is bound at load time to the algorithms of its own type and
// strength, so a token's alg header can only choose among what the configuration allowed.
package keys

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"sync/atomic"
)

// Key is one verification key.
type Key struct {
	// ID is the key's kid; "" means the key has no id and is a candidate for any token.
	ID string
	// Algs are the JWS algorithms this key may verify, fixed at load time from its type, size and
	// (for a JWK) its "alg" member, then narrowed by the configured allow-list.
	Algs []string
	// Public is []byte (HMAC secret), *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey.
	Public any
	// Origin says where the key came from ("public_key /etc/k.pem", "jwks_url https://…"),
	// for error messages and logs. Never key material.
	Origin string

	// mac holds the pooled HMAC states of an HMAC key (a *macPools), made on first use (see
	// hmac.go). It is a pointer so that keys narrowed by Restrict share one pool with the key
	// they came from. The atomic values of this package are atomic.Value, not the generic
	// atomic.Pointer, which Traefik's interpreter (Yaegi) does not have.
	mac atomic.Value
	// ed holds an Ed25519 key as checked (an *edPublic), made on first use (see eddsa.go) and
	// shared like mac.
	ed atomic.Value
}

// Allows reports whether the key may verify alg: alg or its other name (EdDSA and Ed25519, see
// Permitted) is in Algs.
func (k *Key) Allows(alg string) bool {
	return Permitted(k.Algs, alg)
}

// withAlgs returns a copy of k allowed only algs, sharing k's material, HMAC pools and checked
// Ed25519 key.
func (k *Key) withAlgs(algs []string) *Key {
	nk := &Key{ID: k.ID, Algs: algs, Public: k.Public, Origin: k.Origin}
	if p := k.mac.Load(); p != nil {
		nk.mac.Store(p)
	}
	if e := k.ed.Load(); e != nil {
		nk.ed.Store(e)
	}
	return nk
}

// RSA modulus sizes accepted. Below 2048 bits is too weak (RFC 7518 §3.3); above 8192 bits a
// key would make every verification needlessly slow, a cost a hostile key set could impose.
const (
	minRSABits = 2048
	maxRSABits = 8192
)

// publicAlgs checks an asymmetric public key's type and strength and returns the algorithms it
// may verify. The curve decides the ECDSA algorithm: RFC 7518 §3.4 ties ES256 to P-256 and so on.
func publicAlgs(pub any) ([]string, error) {
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		if err := checkRSA(pub); err != nil {
			return nil, err
		}
		return append([]string(nil), rsaAlgs...), nil
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256():
			return []string{"ES256"}, nil
		case elliptic.P384():
			return []string{"ES384"}, nil
		case elliptic.P521():
			return []string{"ES512"}, nil
		}
		return nil, fmt.Errorf("ECDSA curve %s is not supported; use P-256, P-384 or P-521", pub.Curve.Params().Name)
	case ed25519.PublicKey:
		if len(pub) != ed25519.PublicKeySize {
			return nil, errors.New("an Ed25519 public key must be 32 bytes")
		}
		if err := checkEd25519(pub); err != nil {
			return nil, err
		}
		return []string{"EdDSA"}, nil
	}
	return nil, fmt.Errorf("unsupported public key type %T; use RSA, ECDSA (P-256/P-384/P-521) or Ed25519", pub)
}

// checkRSA refuses weak, oversized or malformed RSA public keys.
func checkRSA(pub *rsa.PublicKey) error {
	if pub.N == nil || pub.N.Sign() <= 0 || pub.N.Bit(0) == 0 {
		return errors.New("RSA modulus is not a positive odd number")
	}
	if bits := pub.N.BitLen(); bits < minRSABits {
		return fmt.Errorf("RSA key is %d bits; at least %d are required", bits, minRSABits)
	} else if bits > maxRSABits {
		return fmt.Errorf("RSA key is %d bits; at most %d are supported", bits, maxRSABits)
	}
	// An even or tiny exponent is not a valid RSA key; Go's verifier accepts up to 2^31-1.
	if pub.E < 3 || pub.E%2 == 0 || pub.E > 1<<31-1 {
		return fmt.Errorf("RSA public exponent %d is invalid; it must be odd and at least 3", pub.E)
	}
	return nil
}

// originError prefixes err with where the key came from, when known.
func originError(origin string, err error) error {
	if origin == "" {
		return err
	}
	return fmt.Errorf("%s: %w", origin, err)
}
