package mint

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
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"

	"github.com/gatehouse-dev/gatehouse/internal/keys"
)

// Signer is one signing key: an HMAC secret (HS256) or a private key (ES256/384/512, EdDSA,
// RS256/384/512, PS256/384/512).
type Signer struct {
	// Alg is the JWS algorithm it signs with.
	Alg string
	// Kid is the key id put in token headers: the RFC 7638 thumbprint of the public key; "" for
	// an HMAC secret (simplejwt's tokens have no kid).
	Kid string

	priv   crypto.Signer     // *ecdsa.PrivateKey, ed25519.PrivateKey or *rsa.PrivateKey; nil for HMAC
	hash   crypto.Hash       // digest of HS*/ES*/RS*/PS*; unused for EdDSA
	pss    bool              // PS256/384/512 rather than RS256/384/512
	header string            // the encoded JOSE header and its "." separator, the same for every token
	verify *keys.Key         // what VerifyKey returns, made once
	jwk    map[string]string // the public key's RFC 7638 required members; nil for HMAC

	// macs keeps keyed HMAC states: hmac.New hashes the key and allocates two hash states, work
	// done once per signer instead of once per token.
	macs sync.Pool
}

var b64 = base64.RawURLEncoding

// NewHMAC returns an HS256 signer; the secret must be at least 32 bytes (as keys.FromSecret
// requires), so what jwt_auth accepts and what the issuer signs with agree.
func NewHMAC(secret []byte) (*Signer, error) {
	return NewHMACAlg("HS256", secret, "signing_key secret")
}

// hmacHashes are the digests of the HMAC algorithms a Signer can sign with.
var hmacHashes = map[string]crypto.Hash{"HS256": crypto.SHA256, "HS384": crypto.SHA384, "HS512": crypto.SHA512}

// NewHMACAlg returns an HMAC signer for alg (HS256, HS384 or HS512). The secret must be at least
// as long as the digest (32, 48 or 64 bytes, RFC 7518 §3.2), the lengths jwt_auth requires of a
// secret for that algorithm. origin names the secret in errors ("" for none).
func NewHMACAlg(alg string, secret []byte, origin string) (*Signer, error) {
	h, ok := hmacHashes[alg]
	if !ok {
		return nil, fmt.Errorf("algorithm %q is not supported with a secret; use HS256, HS384 or HS512", alg)
	}
	// keys.FromSecret applies jwt_auth's rules (length, no PEM-looking secret) and keeps its own
	// copy of the secret, which the pool below shares.
	k, err := keys.FromSecret(secret, origin)
	if err != nil {
		return nil, err
	}
	if !k.Allows(alg) {
		err := fmt.Errorf("the secret is %d bytes, too short for %s, which needs at least %d; use HS256 or a longer secret",
			len(secret), alg, h.Size())
		if origin != "" {
			err = fmt.Errorf("%s: %w", origin, err)
		}
		return nil, err
	}
	narrowed, err := keys.Restrict([]*keys.Key{k}, []string{alg})
	if err != nil {
		return nil, err
	}
	key := k.Public.([]byte)
	s := &Signer{Alg: alg, hash: h, verify: narrowed[0]}
	s.header = encodeHeader(alg, "")
	s.macs.New = func() any { return hmac.New(h.New, key) }
	return s, nil
}

// Generate makes a new key for alg: "ES256" (P-256), "EdDSA" (Ed25519) or "RS256" (RSA
// DefaultRSABits), the algorithms of a generated key ring.
func Generate(alg string) (*Signer, error) {
	switch alg {
	case "ES256", "EdDSA", "RS256":
		return GenerateKey(alg, 0)
	}
	return nil, fmt.Errorf("cannot generate a key for %q; use ES256, EdDSA or RS256", alg)
}

// newSigner checks that priv suits alg ("" picks the key type's default) and prepares it.
func newSigner(priv crypto.Signer, alg string) (*Signer, error) {
	algs, desc, err := privateAlgs(priv)
	if err != nil {
		return nil, err
	}
	switch {
	case strings.EqualFold(alg, "none"):
		return nil, errors.New(`algorithm "none" is never used: unsigned tokens cannot be authenticated`)
	case alg == "":
		alg = algs[0]
	case !contains(algs, alg):
		if contains(hmacSignAlgs, alg) {
			return nil, fmt.Errorf("%s signs with a secret, not a key file; use signing_key secret for HMAC", alg)
		}
		return nil, fmt.Errorf("algorithm %q does not fit this %s key, which signs with: %s (names are case-sensitive)",
			alg, desc, joinAlgs(algs))
	}
	s := &Signer{Alg: alg, priv: priv}
	switch alg {
	case "ES256", "RS256", "PS256":
		s.hash = crypto.SHA256
	case "ES384", "RS384", "PS384":
		s.hash = crypto.SHA384
	case "ES512", "RS512", "PS512":
		s.hash = crypto.SHA512
	}
	s.pss = alg[0] == 'P'
	if s.jwk, err = jwkMembers(priv.Public()); err != nil {
		return nil, err
	}
	s.Kid = thumbprint(s.jwk)
	s.header = encodeHeader(alg, s.Kid)
	s.verify = &keys.Key{ID: s.Kid, Algs: []string{alg}, Public: priv.Public(), Origin: "issuer signing key " + s.Kid}
	return s, nil
}

// encodeHeader returns the base64url JOSE header and the "." that follows it. The members are
// simplejwt's (PyJWT's) and need no escaping: alg is from a fixed list, kid is base64url.
func encodeHeader(alg, kid string) string {
	h := `{"alg":"` + alg + `","typ":"JWT"`
	if kid != "" {
		h += `,"kid":"` + kid + `"`
	}
	return b64.EncodeToString([]byte(h+"}")) + "."
}

// VerifyKey is the key that verifies this signer's tokens (the public key, or the secret), with
// ID Kid and only Alg allowed.
func (s *Signer) VerifyKey() *keys.Key { return s.verify }

// Sign returns the compact JWS of payload (a JSON object) with header {"alg","typ":"JWT"} plus
// "kid" when Kid is set.
func (s *Signer) Sign(payload []byte) (string, error) {
	n := len(s.header) + b64.EncodedLen(len(payload))
	buf := make([]byte, n, n+1+b64.EncodedLen(s.sigSize()))
	copy(buf, s.header)
	b64.Encode(buf[len(s.header):], payload)
	sig, err := s.sign(buf)
	if err != nil {
		return "", err
	}
	buf = append(buf, '.')
	buf = b64.AppendEncode(buf, sig)
	return string(buf), nil
}

// sign signs the signing input with the signer's algorithm.
func (s *Signer) sign(input []byte) ([]byte, error) {
	switch priv := s.priv.(type) {
	case nil:
		mac := s.macs.Get().(hash.Hash)
		mac.Reset()
		mac.Write(input)
		sig := mac.Sum(nil)
		s.macs.Put(mac)
		return sig, nil
	case ed25519.PrivateKey:
		return ed25519.Sign(priv, input), nil
	case *ecdsa.PrivateKey:
		r, t, err := ecdsa.Sign(rand.Reader, priv, digest(s.hash, input))
		if err != nil {
			return nil, fmt.Errorf("ECDSA signing failed: %w", err)
		}
		// RFC 7518 §3.4: the JWS form is r and s as fixed-size big-endian integers, not DER.
		size := curveBytes(priv.Curve)
		sig := make([]byte, 2*size)
		r.FillBytes(sig[:size])
		t.FillBytes(sig[size:])
		return sig, nil
	case *rsa.PrivateKey:
		var (
			sig []byte
			err error
		)
		if s.pss {
			// RFC 7518 §3.5: the salt is as long as the hash output.
			sig, err = rsa.SignPSS(rand.Reader, priv, s.hash, digest(s.hash, input),
				&rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			sig, err = rsa.SignPKCS1v15(rand.Reader, priv, s.hash, digest(s.hash, input))
		}
		if err != nil {
			return nil, fmt.Errorf("RSA signing failed: %w", err)
		}
		return sig, nil
	}
	return nil, errors.New("signer has no usable key")
}

// sigSize is the length of the signer's signatures, to size the token buffer.
func (s *Signer) sigSize() int {
	switch priv := s.priv.(type) {
	case nil:
		return s.hash.Size()
	case ed25519.PrivateKey:
		return ed25519.SignatureSize
	case *ecdsa.PrivateKey:
		return 2 * curveBytes(priv.Curve)
	case *rsa.PrivateKey:
		return priv.Size()
	}
	return 0
}

func curveBytes(c elliptic.Curve) int { return (c.Params().BitSize + 7) / 8 }

// digest hashes input with h (SHA-256, SHA-384 or SHA-512).
func digest(h crypto.Hash, input []byte) []byte {
	switch h {
	case crypto.SHA256:
		d := sha256.Sum256(input)
		return d[:]
	case crypto.SHA384:
		d := sha512.Sum384(input)
		return d[:]
	}
	d := sha512.Sum512(input)
	return d[:]
}
