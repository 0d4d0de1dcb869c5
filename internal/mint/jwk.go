package mint

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/big"
)

// jwkMembers returns the members of a public key's JWK that RFC 7638 §3.2 requires (and that a
// thumbprint hashes): e, kty, n for RSA; crv, kty, x, y for EC; crv, kty, x for OKP (RFC 8037).
func jwkMembers(pub crypto.PublicKey) (map[string]string, error) {
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		return map[string]string{
			"kty": "RSA",
			"n":   b64.EncodeToString(pub.N.Bytes()),
			"e":   b64.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
		}, nil
	case *ecdsa.PublicKey:
		// Bytes is the uncompressed point 0x04 || x || y, each coordinate full size, as RFC 7518
		// §6.2.1.2 wants them.
		point, err := pub.Bytes()
		if err != nil {
			return nil, fmt.Errorf("encoding the ECDSA public key: %v", err)
		}
		size := (len(point) - 1) / 2
		return map[string]string{
			"kty": "EC",
			"crv": pub.Curve.Params().Name, // "P-256", "P-384", "P-521", as JWK names them
			"x":   b64.EncodeToString(point[1 : 1+size]),
			"y":   b64.EncodeToString(point[1+size:]),
		}, nil
	case ed25519.PublicKey:
		return map[string]string{"kty": "OKP", "crv": "Ed25519", "x": b64.EncodeToString(pub)}, nil
	}
	return nil, fmt.Errorf("unsupported public key type %T", pub)
}

// thumbprint is the RFC 7638 JWK thumbprint: the base64url SHA-256 of the required members as
// JSON with the names sorted and no whitespace, which is exactly how encoding/json writes a
// map[string]string of base64url and ASCII values.
func thumbprint(members map[string]string) string {
	canonical, _ := json.Marshal(members) // a map of strings always marshals
	sum := sha256.Sum256(canonical)
	return b64.EncodeToString(sum[:])
}

// PublicJWK is the public key as a JWK (kty, crv/n/e/x/y, kid, alg, use "sig"); ok is false for
// HMAC signers, which publish nothing.
func (s *Signer) PublicJWK() (jwk map[string]any, ok bool) {
	if s.jwk == nil {
		return nil, false
	}
	jwk = make(map[string]any, len(s.jwk)+3)
	for k, v := range s.jwk {
		jwk[k] = v
	}
	jwk["kid"] = s.Kid
	jwk["alg"] = s.Alg
	jwk["use"] = "sig"
	return jwk, true
}
