package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
)

// Errors returned by (*Key).Verify. They carry no token or key content; every failure other than
// ErrAlgorithm wraps ErrSignature, so callers can treat them alike with errors.Is.
var (
	// ErrAlgorithm: the key is not allowed to verify the token's alg.
	ErrAlgorithm = errors.New("key does not allow the token's algorithm")
	// ErrSignature: the signature does not verify with this key.
	ErrSignature = errors.New("signature is invalid")

	errKeyType   = fmt.Errorf("%w: key type does not fit the algorithm", ErrSignature)
	errECDSAForm = fmt.Errorf("%w: ECDSA signature must be the JWS r||s form for the curve (RFC 7518 §3.4), not DER", ErrSignature)
	errEdDSASize = fmt.Errorf("%w: Ed25519 signature must be 64 bytes", ErrSignature)
)

// pssOptions accepts any salt length when verifying PS256/384/512, as golang-jwt does: RFC 7518
// asks signers for a salt as long as the hash, but some signers use the maximum, and the salt
// length has no bearing on the security of verification.
var pssOptions = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}

// Verify checks sig over signingInput with this key for alg. It refuses any alg the key does not
// allow before touching the signature, so an RSA or EC public key is never used as an HMAC secret.
// The key's type is checked against alg as well, so even a hand-built Key with a wrong Algs list
// cannot cross algorithm families.
func (k *Key) Verify(alg, signingInput string, sig []byte) error {
	if k == nil || !k.Allows(alg) {
		return ErrAlgorithm
	}
	switch alg {
	case "HS256", "HS384", "HS512":
		return k.verifyHMAC(alg, signingInput, sig)
	case "RS256":
		return k.verifyRSA(crypto.SHA256, false, signingInput, sig)
	case "RS384":
		return k.verifyRSA(crypto.SHA384, false, signingInput, sig)
	case "RS512":
		return k.verifyRSA(crypto.SHA512, false, signingInput, sig)
	case "PS256":
		return k.verifyRSA(crypto.SHA256, true, signingInput, sig)
	case "PS384":
		return k.verifyRSA(crypto.SHA384, true, signingInput, sig)
	case "PS512":
		return k.verifyRSA(crypto.SHA512, true, signingInput, sig)
	case "ES256":
		return k.verifyECDSA(elliptic.P256(), crypto.SHA256, signingInput, sig)
	case "ES384":
		return k.verifyECDSA(elliptic.P384(), crypto.SHA384, signingInput, sig)
	case "ES512":
		return k.verifyECDSA(elliptic.P521(), crypto.SHA512, signingInput, sig)
	case "EdDSA", "Ed25519":
		return k.verifyEdDSA(signingInput, sig)
	}
	// An alg in Algs that is not one of the above can only come from a hand-built Key.
	return ErrAlgorithm
}

func (k *Key) verifyRSA(h crypto.Hash, pss bool, signingInput string, sig []byte) error {
	pub, ok := k.Public.(*rsa.PublicKey)
	if !ok || pub == nil || pub.N == nil {
		return errKeyType
	}
	var buf [sha512.Size]byte
	digest := sum(h, signingInput, &buf)
	var err error
	if pss {
		err = rsa.VerifyPSS(pub, h, digest, sig, pssOptions)
	} else {
		err = rsa.VerifyPKCS1v15(pub, h, digest, sig)
	}
	if err != nil {
		return ErrSignature
	}
	return nil
}

func (k *Key) verifyECDSA(curve elliptic.Curve, h crypto.Hash, signingInput string, sig []byte) error {
	pub, ok := k.Public.(*ecdsa.PublicKey)
	if !ok || pub == nil || pub.Curve != curve {
		return errKeyType
	}
	size := (curve.Params().BitSize + 7) / 8
	if len(sig) != 2*size {
		return errECDSAForm
	}
	var buf [sha512.Size]byte
	digest := sum(h, signingInput, &buf)
	// ecdsa.Verify would take r and s as big.Ints only to encode them as DER for VerifyASN1;
	// encoding them here, on the stack, saves ten of an ES256 verification's 23 allocations.
	// VerifyASN1 refuses r or s outside [1, N-1], zero included.
	var der [maxECDSADER]byte
	if !ecdsa.VerifyASN1(pub, digest, derSignature(der[:0], sig[:size], sig[size:])) {
		return ErrSignature
	}
	return nil
}

// maxECDSADER is the longest DER signature derSignature writes: a SEQUENCE (tag and a two-byte
// length) of two INTEGERs of P-521 (tag, length, a 0x00 sign byte and 66 bytes each).
const maxECDSADER = 3 + 2*(2+1+66)

// derSignature appends to dst the ASN.1 DER encoding of the ECDSA signature (r, s), given as
// unsigned big-endian bytes: SEQUENCE { INTEGER r, INTEGER s }, each integer in its shortest
// form, with a 0x00 byte in front when its top bit is set (DER integers are signed).
func derSignature(dst, r, s []byte) []byte {
	r, s = minimalUnsigned(r), minimalUnsigned(s)
	n := derIntegerLen(r) + derIntegerLen(s)
	dst = append(dst, 0x30) // SEQUENCE
	if n >= 0x80 {
		dst = append(dst, 0x81) // long form: one length byte follows (n < 256 for every curve)
	}
	dst = append(dst, byte(n))
	return appendDERInteger(appendDERInteger(dst, r), s)
}

// minimalUnsigned strips leading zero bytes, keeping one for the value zero.
func minimalUnsigned(b []byte) []byte {
	for len(b) > 1 && b[0] == 0 {
		b = b[1:]
	}
	return b
}

// derIntegerLen is the length of the DER INTEGER of the minimal unsigned bytes b.
func derIntegerLen(b []byte) int {
	n := 2 + len(b)
	if b[0]&0x80 != 0 {
		n++
	}
	return n
}

func appendDERInteger(dst, b []byte) []byte {
	dst = append(dst, 0x02) // INTEGER
	if b[0]&0x80 != 0 {
		dst = append(dst, byte(len(b)+1), 0)
	} else {
		dst = append(dst, byte(len(b)))
	}
	return append(dst, b...)
}

// sum hashes s with h into buf and returns the digest, without copying s.
func sum(h crypto.Hash, s string, buf *[sha512.Size]byte) []byte {
	switch h {
	case crypto.SHA256:
		*(*[sha256.Size]byte)(buf[:]) = sha256.Sum256(stringBytes(s))
		return buf[:sha256.Size]
	case crypto.SHA384:
		*(*[sha512.Size384]byte)(buf[:]) = sha512.Sum384(stringBytes(s))
		return buf[:sha512.Size384]
	default:
		*buf = sha512.Sum512(stringBytes(s))
		return buf[:]
	}
}
