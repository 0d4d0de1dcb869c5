package mint

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
)

// DefaultRSABits is the modulus size of generated RSA keys: NIST's size for security beyond
// 2030 (SP 800-57), at a signing cost that login and refresh rates easily bear.
const DefaultRSABits = 3072

// GenerateAlgs are the algorithms GenerateKey makes keys for.
var GenerateAlgs = []string{"EdDSA", "ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}

// GenerateKey makes a new key for alg, any of GenerateAlgs: Ed25519 for EdDSA, the curve RFC
// 7518 ties to ES256/384/512 (P-256, P-384, P-521), and an RSA key of rsaBits (0 for
// DefaultRSABits; 2048 to 8192, a multiple of 8) for RS* and PS*.
func GenerateKey(alg string, rsaBits int) (*Signer, error) {
	var (
		priv crypto.Signer
		err  error
	)
	if rsaBits != 0 && !contains(rsaSignAlgs, alg) {
		return nil, fmt.Errorf("an RSA key size is for RS256..RS512 and PS256..PS512 only, not %s", alg)
	}
	switch alg {
	case "EdDSA":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ES512":
		priv, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		if rsaBits == 0 {
			rsaBits = DefaultRSABits
		}
		if rsaBits < minRSABits || rsaBits > maxRSABits || rsaBits%8 != 0 {
			return nil, fmt.Errorf("RSA key size %d is out of range; use %d to %d bits, a multiple of 8 (default %d)",
				rsaBits, minRSABits, maxRSABits, DefaultRSABits)
		}
		priv, err = rsa.GenerateKey(rand.Reader, rsaBits)
	default:
		return nil, fmt.Errorf("cannot generate a key for %q; use one of: %s (names are case-sensitive)", alg, joinAlgs(GenerateAlgs))
	}
	if err != nil {
		return nil, fmt.Errorf("generating a %s key: %w", alg, err)
	}
	return newSigner(priv, alg)
}

// PublicPEM encodes the public key as SPKI PEM ("PUBLIC KEY"), the form jwt_auth's public_key
// reads. It fails for HMAC signers, which have no public key.
func (s *Signer) PublicPEM() ([]byte, error) {
	if s.priv == nil {
		return nil, errors.New("an HMAC secret has no public key")
	}
	der, err := x509.MarshalPKIXPublicKey(s.priv.Public())
	if err != nil {
		return nil, fmt.Errorf("encoding the %s public key: %v", s.Alg, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// PublicJWKS is a JWK Set of the signer's public key alone, indented, as jwt_auth's jwks_file
// reads it. It fails for HMAC signers, which publish nothing.
func (s *Signer) PublicJWKS() ([]byte, error) {
	jwk, ok := s.PublicJWK()
	if !ok {
		return nil, errors.New("an HMAC secret has no public key to publish")
	}
	b, err := json.MarshalIndent(map[string]any{"keys": []any{jwk}}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
