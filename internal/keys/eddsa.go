package keys

import (
	"crypto/ed25519"
	"errors"
	"math/big"
)

// Ed25519 signatures are verified by crypto/ed25519.Verify, so that Gatehouse owns no curve
// arithmetic. What the standard library does not do is refuse public keys that are not real
// keys; checkEd25519 does that, once per key, by decoding the key as RFC 8032 §5.1.3 says with
// math/big (the curve equation and a modular square root, nothing more) and comparing it with
// the five y coordinates of the eight points of small order. It needs nothing outside the
// standard library, so the same check runs compiled in Caddy and interpreted in Traefik's Yaegi
// (which cannot run filippo.io/edwards25519's assembly); TestEd25519CheckMatchesEdwards25519
// holds it to filippo.io/edwards25519's point decoding and cofactor multiplication.

// edPublic is an Ed25519 public key that checkEd25519 has looked at.
type edPublic struct {
	// valid is false when checkEd25519 refused the 32 bytes: no signature verifies.
	valid bool
	// a is the key as checked, the bytes crypto/ed25519 verifies with: a copy, because the
	// caller's slice could change after the check and a key let through once must stay that key.
	a [ed25519.PublicKeySize]byte
}

// checkEd25519 refuses an Ed25519 public key that no honest signer can hold:
//   - one that is not a point on the curve (no signature would ever verify: a mistake better
//     reported at load than left to refuse every token);
//   - the eight points of small order, for which signatures can be forged without a private key:
//     with the identity as the key, R = the identity and S = 0 pass crypto/ed25519's check for
//     any message (RFC 8032 does not ask verifiers to refuse such keys; we do);
//   - an encoding that is not canonical (y >= p, or a negative zero x), which RFC 8032 §5.1.3
//     says fails to decode and crypto/ed25519 accepts; no key pair ever produces one.
func checkEd25519(pub []byte) error {
	if len(pub) != ed25519.PublicKeySize {
		return errors.New("an Ed25519 public key must be 32 bytes")
	}
	// The encoding is y, little-endian, with the sign of x in the top bit.
	var be [ed25519.PublicKeySize]byte
	for i, b := range pub {
		be[len(be)-1-i] = b
	}
	be[0] &= 0x7f
	y := new(big.Int).SetBytes(be[:])
	canonical := y.Cmp(ed25519P) < 0
	y.Mod(y, ed25519P)
	// x^2 = (y^2 - 1) / (d y^2 + 1); the point exists when that is a square mod p. d is not a
	// square, so the divisor is never 0.
	y2 := new(big.Int).Mul(y, y)
	u := new(big.Int).Sub(y2, big.NewInt(1))
	v := y2.Mul(y2, ed25519D)
	v.Add(v, big.NewInt(1)).Mod(v, ed25519P)
	if v.ModInverse(v, ed25519P) == nil || new(big.Int).ModSqrt(u.Mul(u, v).Mod(u, ed25519P), ed25519P) == nil {
		return errors.New("the Ed25519 public key is not a point on the curve")
	}
	for _, s := range ed25519SmallOrderY {
		if y.Cmp(s) == 0 {
			return errors.New("the Ed25519 public key is a point of small order, for which anyone can forge signatures; it cannot be a real key")
		}
	}
	// x = 0 only for y = 1 and y = -1, both of small order: so a negative zero x never gets
	// here, and y >= p is the only non-canonical encoding left.
	if !canonical {
		return errors.New("the Ed25519 public key is not canonically encoded (RFC 8032 §5.1.3); no key pair produces such a key")
	}
	return nil
}

// The curve's constants (RFC 8032 §5.1): p = 2^255 - 19 and d = -121665/121666 mod p.
var (
	ed25519P = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	ed25519D = bigDecimal("37095705934669439343138083508754565189542113879843219016388785533085940283555")
)

// ed25519Y8 is the y coordinate of a point of order 8.
var ed25519Y8 = bigDecimal("55188659117513257062467267217118295137698188065244968500265048394206261417927")

// ed25519SmallOrderY are the y coordinates of the points of order 1, 2, 4 and 8: the identity
// (y = 1), (0, -1), the two points with y = 0, and the four of order 8 (y = ±y8). Each y but
// ±1 belongs to two points (x and -x), and both are refused.
var ed25519SmallOrderY = []*big.Int{
	big.NewInt(1),
	new(big.Int).Sub(ed25519P, big.NewInt(1)),
	big.NewInt(0),
	ed25519Y8,
	new(big.Int).Sub(ed25519P, ed25519Y8),
}

func bigDecimal(s string) *big.Int {
	n, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic("keys: bad constant " + s)
	}
	return n
}

// newEdPublic checks a copy of pub. A key that checkEd25519 refuses, which the loaders never let
// through but a Key built by hand could hold, verifies nothing.
func newEdPublic(pub ed25519.PublicKey) *edPublic {
	e := new(edPublic)
	copy(e.a[:], pub)
	e.valid = checkEd25519(e.a[:]) == nil
	return e
}

// checkedEd25519 returns k's checked Ed25519 key, checking pub on first use, race-free: the
// check decodes a point, a field square root, which need not be paid on every token.
func (k *Key) checkedEd25519(pub ed25519.PublicKey) *edPublic {
	if e, ok := k.ed.Load().(*edPublic); ok {
		return e
	}
	k.ed.CompareAndSwap(nil, newEdPublic(pub))
	return k.ed.Load().(*edPublic)
}

// verifyEdDSA checks a pure Ed25519 signature (RFC 8032 §5.1.7) with crypto/ed25519: S must be
// canonical, and the check is [S]B = R + [k]A without the cofactor, R compared as encoded. In
// FIPS 140-only mode that is the validated module's verification.
func (k *Key) verifyEdDSA(signingInput string, sig []byte) error {
	pub, ok := k.Public.(ed25519.PublicKey)
	if !ok || len(pub) != ed25519.PublicKeySize {
		return errKeyType
	}
	if len(sig) != ed25519.SignatureSize {
		return errEdDSASize
	}
	e := k.checkedEd25519(pub)
	if !e.valid || !ed25519.Verify(e.a[:], stringBytes(signingInput), sig) {
		return ErrSignature
	}
	return nil
}
