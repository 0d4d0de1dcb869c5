package keys

import (
	"bytes"
	"crypto/ed25519"
	"errors"

	"filippo.io/edwards25519"
)

// Ed25519 signatures are verified by crypto/ed25519.Verify, so that Gatehouse owns no curve
// arithmetic. What the standard library does not do is refuse public keys that are not real
// keys; checkEd25519 does that, once per key, with filippo.io/edwards25519 (the maintained
// upstream of the standard library's own curve code, already in Caddy's module graph), whose
// only use here is to decode the key and test its order.

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
	a, err := new(edwards25519.Point).SetBytes(pub)
	if err != nil {
		return errors.New("the Ed25519 public key is not a point on the curve")
	}
	if new(edwards25519.Point).MultByCofactor(a).Equal(edwards25519.NewIdentityPoint()) == 1 {
		return errors.New("the Ed25519 public key is a point of small order, for which anyone can forge signatures; it cannot be a real key")
	}
	if !bytes.Equal(a.Bytes(), pub) {
		return errors.New("the Ed25519 public key is not canonically encoded (RFC 8032 §5.1.3); no key pair produces such a key")
	}
	return nil
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
	if e := k.ed.Load(); e != nil {
		return e
	}
	k.ed.CompareAndSwap(nil, newEdPublic(pub))
	return k.ed.Load()
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
