package mint

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// RSA modulus sizes accepted, as jwt_auth accepts them (keys.ParsePEM): below 2048 bits is too
// weak (RFC 7518 §3.3); above 8192 bits a verifier would refuse the public key.
const (
	minRSABits = 2048
	maxRSABits = 8192
)

var (
	rsaSignAlgs  = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
	hmacSignAlgs = []string{"HS256", "HS384", "HS512"}
)

// ParsePEM reads a private key (PKCS#8, SEC 1 "EC PRIVATE KEY" or PKCS#1 "RSA PRIVATE KEY").
// alg "" picks the key type's default (RSA: RS256, P-256: ES256, P-384: ES384, P-521: ES512,
// Ed25519: EdDSA); otherwise alg must suit the key. RSA keys under 2048 bits are refused. Errors
// say what to fix and never contain key material.
func ParsePEM(data []byte, alg string) (*Signer, error) {
	priv, err := parsePrivatePEM(data)
	if err != nil {
		return nil, err
	}
	return newSigner(priv, alg)
}

// parsePrivatePEM returns the one private key of a PEM file. An "EC PARAMETERS" block, which
// openssl ecparam -genkey writes before the key, is passed over; any other extra block is an
// error, so the file that is used is the file that was meant.
func parsePrivatePEM(data []byte) (crypto.Signer, error) {
	var (
		key   *pem.Block
		rest  = data
		found bool
	)
	for {
		b, r := pem.Decode(rest)
		if b == nil {
			break
		}
		rest = r
		switch {
		case b.Type == "EC PARAMETERS":
			continue
		case b.Type == "ENCRYPTED PRIVATE KEY" || b.Headers["Proc-Type"] != "":
			return nil, errors.New("the private key is encrypted; Caddy cannot prompt for a passphrase, so " +
				"store it unencrypted (openssl pkey -in key.pem -out plain.pem) and make the file readable by Caddy only")
		case b.Type == "PUBLIC KEY" || b.Type == "RSA PUBLIC KEY" || b.Type == "CERTIFICATE":
			return nil, fmt.Errorf("file holds a %s, not a private key; signing needs the private key "+
				"(the issuer publishes the public key itself at jwks.json)", b.Type)
		case !strings.HasSuffix(b.Type, "PRIVATE KEY"):
			return nil, fmt.Errorf("unsupported PEM block %q; expected PRIVATE KEY (PKCS#8), EC PRIVATE KEY or RSA PRIVATE KEY", b.Type)
		case found:
			return nil, errors.New("file holds more than one private key; supply exactly one")
		case len(b.Headers) != 0:
			return nil, fmt.Errorf("PEM block %s has headers; supply a plain unencrypted key block", b.Type)
		}
		key, found = b, true
	}
	if !found {
		return nil, errors.New("not a PEM private key: expected a -----BEGIN PRIVATE KEY----- block " +
			"(an HMAC secret goes in signing_key secret)")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("unexpected data after the PEM block; the file must hold one private key only")
	}
	// The x509 errors name formats and OIDs, never key bytes.
	var (
		priv any
		err  error
	)
	switch key.Type {
	case "PRIVATE KEY":
		priv, err = x509.ParsePKCS8PrivateKey(key.Bytes)
	case "EC PRIVATE KEY":
		priv, err = x509.ParseECPrivateKey(key.Bytes)
	case "RSA PRIVATE KEY":
		priv, err = x509.ParsePKCS1PrivateKey(key.Bytes)
	default:
		return nil, fmt.Errorf("unsupported PEM block %q; expected PRIVATE KEY (PKCS#8), EC PRIVATE KEY or RSA PRIVATE KEY", key.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot parse %s block: %v", key.Type, err)
	}
	switch priv := priv.(type) {
	case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
		return priv.(crypto.Signer), nil
	case *ecdh.PrivateKey:
		return nil, errors.New("the key is an X25519/ECDH key-agreement key; signing needs Ed25519, ECDSA or RSA")
	}
	return nil, fmt.Errorf("unsupported private key type %T; use ECDSA (P-256/P-384/P-521), Ed25519 or RSA", priv)
}

// privateAlgs checks a private key's type and strength and returns the algorithms it can sign
// with (the default first) and a description for messages.
func privateAlgs(priv crypto.Signer) (algs []string, desc string, err error) {
	switch priv := priv.(type) {
	case *rsa.PrivateKey:
		bits := priv.N.BitLen()
		if bits < minRSABits {
			return nil, "", fmt.Errorf("RSA key is %d bits; at least %d are required (generate one with: openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072)", bits, minRSABits)
		}
		if bits > maxRSABits {
			return nil, "", fmt.Errorf("RSA key is %d bits; at most %d are supported", bits, maxRSABits)
		}
		return rsaSignAlgs, fmt.Sprintf("RSA %d-bit", bits), nil
	case *ecdsa.PrivateKey:
		// RFC 7518 §3.4 ties each ECDSA algorithm to one curve.
		switch priv.Curve {
		case elliptic.P256():
			return []string{"ES256"}, "ECDSA P-256", nil
		case elliptic.P384():
			return []string{"ES384"}, "ECDSA P-384", nil
		case elliptic.P521():
			return []string{"ES512"}, "ECDSA P-521", nil
		}
		return nil, "", fmt.Errorf("ECDSA curve %s is not supported; use P-256, P-384 or P-521", priv.Curve.Params().Name)
	case ed25519.PrivateKey:
		if len(priv) != ed25519.PrivateKeySize {
			return nil, "", errors.New("an Ed25519 private key must be 64 bytes")
		}
		return []string{"EdDSA"}, "Ed25519", nil
	}
	return nil, "", fmt.Errorf("unsupported private key type %T; use ECDSA (P-256/P-384/P-521), Ed25519 or RSA", priv)
}

// MarshalPEM encodes the private key as PKCS#8 PEM, for storage. It fails for HMAC signers,
// whose secret comes from the configuration and is never stored.
func (s *Signer) MarshalPEM() ([]byte, error) {
	if s.priv == nil {
		return nil, errors.New("an HMAC secret is never stored; it comes from the configuration")
	}
	der, err := x509.MarshalPKCS8PrivateKey(s.priv)
	if err != nil {
		return nil, fmt.Errorf("encoding the %s private key: %v", s.Alg, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func joinAlgs(algs []string) string { return strings.Join(algs, ", ") }
