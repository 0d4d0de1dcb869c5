// Package testsign signs JSON Web Tokens for the tests of every Gatehouse package, hostile
// tokens included: the header and payload are whatever JSON text a test writes (duplicate
// members, an alg the key does not fit, odd types), and the signature can be taken apart or
// re-encoded (ASN.1 DER instead of r||s, padded base64). It builds tokens with the standard
// library only, so what a test signs never depends on the library a verifier is compared with.
//
// It is for tests only: no non-test code may import it. Its functions panic on a key that does
// not fit the algorithm, which is a mistake in the test, never something a test checks.
package testsign

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha256" // registers SHA-256 for crypto.Hash.New
	_ "crypto/sha512" // registers SHA-384 and SHA-512 for crypto.Hash.New
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
)

// B64 is b in unpadded base64url, as in a compact JWS.
func B64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// Input is the signing input of a JWS: header and payload, each raw JSON text, encoded.
func Input(header, payload string) string {
	return B64([]byte(header)) + "." + B64([]byte(payload))
}

// Token is a compact JWS of header and payload (raw JSON texts) signed for alg with key. The
// header's own alg is not looked at, so a real key can sign a hostile header.
func Token(alg string, key any, header, payload string) string {
	input := Input(header, payload)
	return input + "." + B64(Sign(alg, key, input))
}

// Mint is a token of claims under the header {"alg":alg,"typ":"JWT"} with extra header members
// set over it, both marshalled by encoding/json: the same bytes golang-jwt's SignedString makes.
func Mint(alg string, key any, header map[string]any, claims any) string {
	h := map[string]any{"alg": alg, "typ": "JWT"}
	for k, v := range header {
		h[k] = v
	}
	return Token(alg, key, JSON(h), JSON(claims))
}

// Sign is the JWS signature of input for alg, the algorithms of RFC 7518 and RFC 8037:
// HS256/384/512 with a []byte or string secret, RS* and PS* with an *rsa.PrivateKey, ES* with
// an *ecdsa.PrivateKey (r||s; see DER), EdDSA (or Ed25519) with an ed25519.PrivateKey, and none,
// whose signature is empty. The key is not checked against alg beyond its type, so an ES256
// signature by a P-384 key, or a PS256 one by a 1024-bit key, can be made.
func Sign(alg string, key any, input string) []byte {
	switch alg {
	case "none":
		return nil
	case "HS256", "HS384", "HS512":
		var secret []byte
		switch k := key.(type) {
		case []byte:
			secret = k
		case string:
			secret = []byte(k)
		default:
			panic(fmt.Sprintf("testsign: %s needs a []byte or string secret, not %T", alg, key))
		}
		m := hmac.New(Hash(alg).New, secret)
		m.Write([]byte(input))
		return m.Sum(nil)
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		k, ok := key.(*rsa.PrivateKey)
		if !ok {
			panic(fmt.Sprintf("testsign: %s needs an *rsa.PrivateKey, not %T", alg, key))
		}
		h := Hash(alg)
		var (
			sig []byte
			err error
		)
		if alg[0] == 'R' {
			sig, err = rsa.SignPKCS1v15(rand.Reader, k, h, Digest(h, input))
		} else {
			sig, err = rsa.SignPSS(rand.Reader, k, h, Digest(h, input), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		}
		if err != nil {
			panic(fmt.Sprintf("testsign: %s: %v", alg, err))
		}
		return sig
	case "ES256", "ES384", "ES512":
		k, ok := key.(*ecdsa.PrivateKey)
		if !ok {
			panic(fmt.Sprintf("testsign: %s needs an *ecdsa.PrivateKey, not %T", alg, key))
		}
		r, s, err := ecdsa.Sign(rand.Reader, k, Digest(Hash(alg), input))
		if err != nil {
			panic(fmt.Sprintf("testsign: %s: %v", alg, err))
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		sig := make([]byte, 2*size)
		r.FillBytes(sig[:size])
		s.FillBytes(sig[size:])
		return sig
	case "EdDSA", "Ed25519":
		k, ok := key.(ed25519.PrivateKey)
		if !ok {
			panic(fmt.Sprintf("testsign: %s needs an ed25519.PrivateKey, not %T", alg, key))
		}
		return ed25519.Sign(k, []byte(input))
	}
	panic("testsign: unknown alg " + alg)
}

// Hash is the hash function of alg: SHA-384 or SHA-512 for names ending in 384 or 512, else
// SHA-256 (EdDSA hashes inside the signature; its answer here is not used).
func Hash(alg string) crypto.Hash {
	switch {
	case strings.HasSuffix(alg, "384"):
		return crypto.SHA384
	case strings.HasSuffix(alg, "512"):
		return crypto.SHA512
	}
	return crypto.SHA256
}

// Digest is the h hash of input, for tests that sign a digest their own way.
func Digest(h crypto.Hash, input string) []byte {
	d := h.New()
	d.Write([]byte(input))
	return d.Sum(nil)
}

// DER re-encodes an ECDSA r||s signature as the ASN.1 DER sequence that X.509 uses and a JWS
// must not (RFC 7518 §3.4).
func DER(sig []byte) []byte {
	half := len(sig) / 2
	r, s := new(big.Int).SetBytes(sig[:half]), new(big.Int).SetBytes(sig[half:])
	der, err := asn1.Marshal(struct{ R, S *big.Int }{r, s})
	if err != nil {
		panic(fmt.Sprintf("testsign: DER: %v", err))
	}
	return der
}

// JSON is v marshalled by encoding/json (maps with their members sorted).
func JSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("testsign: JSON: %v", err))
	}
	return string(b)
}
