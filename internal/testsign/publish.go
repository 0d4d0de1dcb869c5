package testsign

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
)

// PEM is der as one PEM block of type typ.
func PEM(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// PublicDER is the SPKI DER of key, or of a private key's public half.
func PublicDER(key any) []byte {
	der, err := x509.MarshalPKIXPublicKey(public(key))
	if err != nil {
		panic(fmt.Sprintf("testsign: SPKI of %T: %v", key, err))
	}
	return der
}

// PublicPEM is the SPKI "PUBLIC KEY" PEM of key, or of a private key's public half.
func PublicPEM(key any) []byte { return PEM("PUBLIC KEY", PublicDER(key)) }

// PrivatePEM is priv as a PKCS #8 "PRIVATE KEY" PEM, as a signing_key file holds it.
func PrivatePEM(priv crypto.PrivateKey) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		panic(fmt.Sprintf("testsign: PKCS #8 of %T: %v", priv, err))
	}
	return PEM("PRIVATE KEY", der)
}

// JWK is the public JWK of key (an RSA, EC or Ed25519 public key or a private key's public half,
// or a []byte secret as an oct key), with extra members set over it (delete from the answer to
// drop one). EC coordinates are taken as they are, so a point off its curve can be published.
func JWK(key any, extra map[string]any) map[string]any {
	var m map[string]any
	switch k := public(key).(type) {
	case *rsa.PublicKey:
		m = map[string]any{"kty": "RSA", "n": B64(k.N.Bytes()), "e": B64(big.NewInt(int64(k.E)).Bytes())}
	case *ecdsa.PublicKey:
		size := (k.Curve.Params().BitSize + 7) / 8
		m = map[string]any{"kty": "EC", "crv": k.Curve.Params().Name,
			"x": B64(k.X.FillBytes(make([]byte, size))), "y": B64(k.Y.FillBytes(make([]byte, size)))}
	case ed25519.PublicKey:
		m = map[string]any{"kty": "OKP", "crv": "Ed25519", "x": B64(k)}
	case []byte:
		m = map[string]any{"kty": "oct", "k": B64(k)}
	default:
		panic(fmt.Sprintf("testsign: no JWK for %T", key))
	}
	for name, v := range extra {
		m[name] = v
	}
	return m
}

// JWKS is the JSON of a JWK Set of jwks, each a JWK's members or its JSON text; a text is kept
// as it is written, so a hostile member survives.
func JWKS(jwks ...any) string {
	texts := make([]string, len(jwks))
	for i, j := range jwks {
		if s, ok := j.(string); ok {
			texts[i] = s
		} else {
			texts[i] = JSON(j)
		}
	}
	return `{"keys":[` + strings.Join(texts, ",") + `]}`
}

// public is the public half of a private key, and any other key as it is.
func public(key any) any {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return k.Public()
	case *ecdsa.PrivateKey:
		return k.Public()
	case ed25519.PrivateKey:
		return k.Public()
	}
	return key
}
