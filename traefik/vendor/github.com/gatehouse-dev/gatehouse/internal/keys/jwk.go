package keys

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// jwk is the part of a JSON Web Key (RFC 7517 §4, RFC 7518 §6) Gatehouse reads. The private
// members are decoded only to notice their presence.
type jwk struct {
	Kty    string   `json:"kty"`
	Use    string   `json:"use"`
	KeyOps []string `json:"key_ops"`
	Alg    string   `json:"alg"`
	Kid    string   `json:"kid"`

	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	K   string `json:"k"`

	D   json.RawMessage `json:"d"`
	P   json.RawMessage `json:"p"`
	Q   json.RawMessage `json:"q"`
	DP  json.RawMessage `json:"dp"`
	DQ  json.RawMessage `json:"dq"`
	QI  json.RawMessage `json:"qi"`
	Oth json.RawMessage `json:"oth"`
}

// skipError marks a key that is valid JSON but not for us (encryption, unknown type, curve or
// algorithm): such keys may share a set with ours and are passed over, with the reason kept for
// the caller to log (a key skipped in silence is a mystery when its tokens are refused).
type skipError struct{ reason string }

func (e *skipError) Error() string { return e.reason }

// skip is a skipError; the reason quotes JWK members with quoted, never key material.
func skip(format string, args ...any) error {
	return &skipError{reason: fmt.Sprintf(format, args...)}
}

// Skipped is a key of a JWK Set that was passed over, and why. It holds no key material: the
// reason names members such as kty, crv, alg and use, quoted and shortened.
type Skipped struct {
	Index  int    // the key's position in "keys"
	Kid    string // the key's kid, shortened; "" when it has none
	Reason string
}

func (s Skipped) String() string {
	if s.Kid != "" {
		return fmt.Sprintf("key %d (kid %q): %s", s.Index, s.Kid, s.Reason)
	}
	return fmt.Sprintf("key %d: %s", s.Index, s.Reason)
}

// maxQuoted is how much of a JWK member a message quotes: a published set is not trusted input,
// and a log line should not carry kilobytes of it.
const maxQuoted = 64

// quoted is s quoted for a message, cut to maxQuoted bytes.
func quoted(s string) string {
	if len(s) > maxQuoted {
		return strconv.Quote(s[:maxQuoted]) + "..."
	}
	return strconv.Quote(s)
}

// ParseJWKS reads a JWK Set ({"keys":[...]}, RFC 7517). kty RSA, EC (P-256/384/521), OKP
// (Ed25519) and oct (HMAC, >= 32 bytes) are supported. An "alg" member pins the key to that
// algorithm (and must fit the key type; "Ed25519" and "EdDSA" both fit an Ed25519 key). A set
// with no usable key is an error, which says why each key was skipped.
//
// Keys whose kty, crv or alg Gatehouse does not verify with are skipped, as are keys whose use
// is not "sig" or whose key_ops lack "verify"; ParseJWKSReport says which and why. A key with
// private members (d, p, q, dp, dq, qi, oth) makes the whole set an error: whoever published it
// is leaking private keys, and the configuration should be fixed rather than quietly accepted.
func ParseJWKS(data []byte, origin string) ([]*Key, error) {
	ks, _, err := parseJWKS(data, origin, true)
	return ks, err
}

// ParseJWKSReport is ParseJWKS that also returns the keys it skipped and why, for the caller
// to log: a key that is never used should never be a silent mystery.
func ParseJWKSReport(data []byte, origin string) ([]*Key, []Skipped, error) {
	return parseJWKS(data, origin, true)
}

// parseJWKS is ParseJWKSReport; allowOct is false for sets fetched from a URL, where a symmetric
// key would be a published HMAC secret that lets anyone sign tokens.
func parseJWKS(data []byte, origin string, allowOct bool) ([]*Key, []Skipped, error) {
	var set struct {
		Keys *[]json.RawMessage `json:"keys"`
		Kty  *string            `json:"kty"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, nil, originError(origin, fmt.Errorf(`not a JWK Set: expected a JSON object {"keys":[...]}: %v`, err))
	}
	if set.Keys == nil {
		if set.Kty != nil {
			return nil, nil, originError(origin, errors.New(`this is a single JWK; a JWK Set wraps keys as {"keys":[...]}`))
		}
		return nil, nil, originError(origin, errors.New(`not a JWK Set: expected a JSON object {"keys":[...]}`))
	}
	var (
		out     []*Key
		skipped []Skipped
	)
	for i, raw := range *set.Keys {
		var j jwk
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, nil, originError(origin, fmt.Errorf("key %d: not a valid JWK: %v", i, err))
		}
		k, err := j.key(allowOct)
		if se, ok := err.(*skipError); ok {
			skipped = append(skipped, Skipped{Index: i, Kid: shortKid(j.Kid), Reason: se.reason})
			continue
		}
		if err != nil {
			if j.Kid != "" {
				return nil, nil, originError(origin, fmt.Errorf("key %d (kid %s): %w", i, quoted(j.Kid), err))
			}
			return nil, nil, originError(origin, fmt.Errorf("key %d: %w", i, err))
		}
		k.Origin = origin
		out = append(out, k)
	}
	if len(out) == 0 {
		msg := `JWK Set has no usable signature key (supported: kty RSA, EC P-256/P-384/P-521, OKP Ed25519, oct; ` +
			`keys with "use":"enc" are skipped)`
		// Why each key was skipped, the first few: the answer to "why is my key not used?".
		for n, sk := range skipped {
			if n == 3 {
				msg += fmt.Sprintf("; and %d more", len(skipped)-n)
				break
			}
			msg += "; " + sk.String()
		}
		return nil, nil, originError(origin, errors.New(msg))
	}
	return out, skipped, nil
}

// shortKid is kid cut to maxQuoted bytes, for Skipped.
func shortKid(kid string) string {
	if len(kid) > maxQuoted {
		return kid[:maxQuoted] + "..."
	}
	return kid
}

// key checks one JWK and returns its Key, errSkip, or what is wrong with it.
func (j *jwk) key(allowOct bool) (*Key, error) {
	if j.D != nil || j.P != nil || j.Q != nil || j.DP != nil || j.DQ != nil || j.QI != nil || j.Oth != nil {
		return nil, errors.New("JWKS contains a private key; publish only public keys")
	}
	if j.Use != "" && j.Use != "sig" {
		return nil, skip(`"use":%s is not "sig"`, quoted(j.Use))
	}
	if j.KeyOps != nil && !contains(j.KeyOps, "verify") {
		return nil, skip(`"key_ops" does not include "verify"`)
	}
	if strings.EqualFold(j.Alg, "none") {
		return nil, errors.New(`"alg":"none" is never accepted`)
	}
	if j.Alg != "" && !supported(j.Alg) {
		return nil, skip(`"alg":%s is not an algorithm Gatehouse verifies (supported: %s)`, quoted(j.Alg), strings.Join(algorithms, ", "))
	}
	var (
		pub  any
		algs []string
		err  error
	)
	switch j.Kty {
	case "RSA":
		pub, err = j.rsa()
	case "EC":
		pub, err = j.ec()
	case "OKP":
		pub, err = j.okp()
	case "oct":
		if !allowOct {
			return nil, errors.New(`symmetric (kty "oct") key in a published JWK Set: anyone who can read ` +
				`the set could sign tokens; configure an HMAC secret with secret instead`)
		}
		return j.oct()
	default:
		return nil, skip(`"kty":%s is not supported (RSA, EC, OKP, oct)`, quoted(j.Kty))
	}
	if err != nil {
		return nil, err
	}
	if algs, err = publicAlgs(pub); err != nil {
		return nil, err
	}
	if algs, err = j.pin(algs); err != nil {
		return nil, err
	}
	return &Key{ID: j.Kid, Algs: algs, Public: pub}, nil
}

// pin narrows algs to the JWK's "alg" member, which must be one of them.
func (j *jwk) pin(algs []string) ([]string, error) {
	if j.Alg == "" {
		return algs, nil
	}
	if !Permitted(algs, j.Alg) {
		return nil, fmt.Errorf(`"alg":%q does not fit this %s key, which can verify: %s`,
			j.Alg, j.describe(), strings.Join(algs, ", "))
	}
	return []string{j.Alg}, nil
}

func (j *jwk) describe() string {
	if j.Crv != "" {
		return j.Kty + " " + j.Crv
	}
	return j.Kty
}

func (j *jwk) rsa() (*rsa.PublicKey, error) {
	n, err := b64Member("n", j.N)
	if err != nil {
		return nil, err
	}
	e, err := b64Member("e", j.E)
	if err != nil {
		return nil, err
	}
	if len(e) > 4 {
		return nil, fmt.Errorf("RSA public exponent is %d bytes; it must fit in 4", len(e))
	}
	var exp int
	for _, b := range e {
		exp = exp<<8 | int(b)
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: exp}
	if err := checkRSA(pub); err != nil {
		return nil, err
	}
	return pub, nil
}

func (j *jwk) ec() (*ecdsa.PublicKey, error) {
	var curve elliptic.Curve
	switch j.Crv {
	case "P-256":
		curve = elliptic.P256()
	case "P-384":
		curve = elliptic.P384()
	case "P-521":
		curve = elliptic.P521()
	default:
		// e.g. secp256k1 (ES256K), which Gatehouse does not verify
		return nil, skip(`EC "crv":%s is not supported (P-256, P-384, P-521)`, quoted(j.Crv))
	}
	size := (curve.Params().BitSize + 7) / 8
	x, err := b64Member("x", j.X)
	if err != nil {
		return nil, err
	}
	y, err := b64Member("y", j.Y)
	if err != nil {
		return nil, err
	}
	// RFC 7518 §6.2.1.2 wants full-size coordinates; shorter ones (leading zeros dropped, a bug of
	// some encoders) are padded, since the point is validated below either way.
	if len(x) > size || len(y) > size {
		return nil, fmt.Errorf("EC %s coordinates must be %d bytes", j.Crv, size)
	}
	point := make([]byte, 1+2*size)
	point[0] = 4 // uncompressed point
	copy(point[1+size-len(x):1+size], x)
	copy(point[1+2*size-len(y):], y)
	// crypto/ecdh refuses points not on the curve (invalid-curve attacks). It is used rather than
	// ecdsa.ParseUncompressedPublicKey (Go 1.25), which Traefik's interpreter (Yaegi, with the
	// Go 1.22 standard library's symbols) does not have.
	if _, err := ecdhCurve(j.Crv).NewPublicKey(point); err != nil {
		return nil, fmt.Errorf("EC %s point is not on the curve", j.Crv)
	}
	return &ecdsa.PublicKey{Curve: curve, X: new(big.Int).SetBytes(point[1 : 1+size]), Y: new(big.Int).SetBytes(point[1+size:])}, nil
}

// ecdhCurve is the crypto/ecdh curve of crv, which ec has checked is one of these.
func ecdhCurve(crv string) ecdh.Curve {
	switch crv {
	case "P-384":
		return ecdh.P384()
	case "P-521":
		return ecdh.P521()
	}
	return ecdh.P256()
}

func (j *jwk) okp() (ed25519.PublicKey, error) {
	if j.Crv != "Ed25519" {
		// X25519 is for key agreement; Ed448 is not supported
		return nil, skip(`OKP "crv":%s is not supported (Ed25519)`, quoted(j.Crv))
	}
	x, err := b64Member("x", j.X)
	if err != nil {
		return nil, err
	}
	if len(x) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("an Ed25519 x member is %d bytes; it must be %d", len(x), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(x), nil
}

func (j *jwk) oct() (*Key, error) {
	secret, err := b64Member("k", j.K)
	if err != nil {
		return nil, err
	}
	algs, err := hmacAlgsFor(len(secret))
	if err != nil {
		return nil, err
	}
	if j.Alg != "" && !contains(algs, j.Alg) {
		if contains(hmacAlgs, j.Alg) {
			return nil, fmt.Errorf(`"alg":%q needs a longer key; this oct key is %d bytes (HS384 needs 48, HS512 64)`, j.Alg, len(secret))
		}
		return nil, fmt.Errorf(`"alg":%q does not fit an oct (HMAC) key`, j.Alg)
	}
	if algs, err = j.pin(algs); err != nil {
		return nil, err
	}
	k := &Key{ID: j.Kid, Algs: algs, Public: secret}
	k.mac.Store(newMacPools(secret))
	return k, nil
}

// b64Member decodes a base64url JWK member (RFC 7518 uses it unpadded; trailing "=" padding, which
// some encoders add, is tolerated).
func b64Member(name, v string) ([]byte, error) {
	if v == "" {
		return nil, fmt.Errorf("member %q is missing", name)
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(v, "="))
	if err != nil {
		return nil, fmt.Errorf("member %q is not base64url", name)
	}
	return b, nil
}
