package keys

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// ParsePEM reads one SPKI/PKIX public key ("PUBLIC KEY" block; an X.509 certificate's key is also
// accepted): RSA (>= 2048 bits; RS*/PS*), ECDSA P-256/P-384/P-521 (ES256/384/512 respectively)
// or Ed25519 (EdDSA). A private key, an HMAC-looking file or trailing garbage is an error that
// says what to supply instead.
//
// A PKCS #1 "RSA PUBLIC KEY" block is accepted as well. A certificate is only a container for its
// key here: its validity period and issuer are not checked. Text before the block (as openssl
// writes with -text) is ignored, as encoding/pem does.
func ParsePEM(data []byte, origin string) (*Key, error) {
	pub, err := parsePEM(data)
	if err != nil {
		return nil, originError(origin, err)
	}
	algs, err := publicAlgs(pub)
	if err != nil {
		return nil, originError(origin, err)
	}
	return &Key{Algs: algs, Public: pub, Origin: origin}, nil
}

func parsePEM(data []byte) (any, error) {
	var blocks []*pem.Block
	rest := data
	for {
		b, r := pem.Decode(rest)
		if b == nil {
			break
		}
		// Look at every block first, so a private key is named as such even when it follows
		// another block (openssl ecparam -genkey writes "EC PARAMETERS" first).
		if strings.Contains(b.Type, "PRIVATE KEY") {
			return nil, fmt.Errorf("file holds a private key (%s); supply the public key instead, "+
				"e.g. openssl pkey -in key.pem -pubout -out public.pem", b.Type)
		}
		blocks = append(blocks, b)
		rest = r
	}
	switch {
	case len(blocks) == 0:
		return nil, errors.New("not a PEM file: expected a -----BEGIN PUBLIC KEY----- block " +
			"(an HMAC secret goes in secret, a JWK Set in jwks_file)")
	case len(blocks) > 1:
		return nil, fmt.Errorf("file holds %d PEM blocks; supply exactly one public key or certificate per file", len(blocks))
	case len(bytes.TrimSpace(rest)) != 0:
		return nil, errors.New("unexpected data after the PEM block; the file must hold one public key only")
	}
	b := blocks[0]
	if len(b.Headers) != 0 {
		return nil, fmt.Errorf("PEM block %s has headers; supply an unencrypted public key block", b.Type)
	}
	switch b.Type {
	case "PUBLIC KEY":
		pub, err := x509.ParsePKIXPublicKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("cannot parse PUBLIC KEY block: %w", err)
		}
		return pub, nil
	case "RSA PUBLIC KEY":
		pub, err := x509.ParsePKCS1PublicKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("cannot parse RSA PUBLIC KEY block: %w", err)
		}
		return pub, nil
	case "CERTIFICATE":
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("cannot parse CERTIFICATE block: %w", err)
		}
		return cert.PublicKey, nil
	}
	return nil, fmt.Errorf("unsupported PEM block %q; expected PUBLIC KEY (SPKI), RSA PUBLIC KEY or CERTIFICATE", b.Type)
}
