package keys

import (
	"bytes"
	"crypto/ed25519"
	"crypto/fips140"
	"crypto/sha512"
	"errors"

	"filippo.io/edwards25519"
)

// crypto/ed25519.Verify decodes the public key from its 32 bytes on every call: a point
// decompression, a field square root, about 6% of the verification in a benchmark and 10% in a
// profile of Caddy, where a request's I/O has evicted the CPU caches. The standard library has
// no way to keep the decoded key, so an Ed25519 key keeps it here, decoded on first use, and the
// verification runs the same steps as crypto/internal/fips140/ed25519's, on
// filippo.io/edwards25519: the maintained upstream of the standard library's own curve
// arithmetic, already in Caddy's module graph. TestEdDSAMatchesStandardLibrary holds the two to
// the same answers.

// edPublic is an Ed25519 public key, decoded once.
type edPublic struct {
	// valid is false when decodeEd25519 refused the 32 bytes: no signature verifies.
	valid bool
	a     [ed25519.PublicKeySize]byte // the encoding, hashed into every verification
	negA  edwards25519.Point          // -A, the form the verification equation uses
}

// decodeEd25519 decodes a public key. It refuses one that is not a point on the curve (no
// signature would ever verify: a mistake better reported at load than left to refuse every
// token) and the eight points of small order, for which signatures can be forged without a
// private key: with the identity as the key, R = the identity and S = 0 pass crypto/ed25519's
// check for any message (RFC 8032 does not ask verifiers to refuse such keys; we do).
func decodeEd25519(pub []byte) (*edwards25519.Point, error) {
	a, err := new(edwards25519.Point).SetBytes(pub)
	if err != nil {
		return nil, errors.New("the Ed25519 public key is not a point on the curve")
	}
	if new(edwards25519.Point).MultByCofactor(a).Equal(edwards25519.NewIdentityPoint()) == 1 {
		return nil, errors.New("the Ed25519 public key is a point of small order, for which anyone can forge signatures; it cannot be a real key")
	}
	return a, nil
}

// newEdPublic decodes pub. A key that decodeEd25519 refuses, which the loaders never let through
// but a Key built by hand could hold, verifies nothing.
func newEdPublic(pub ed25519.PublicKey) *edPublic {
	e := new(edPublic)
	copy(e.a[:], pub) // the caller's slice could change after the key was made
	a, err := decodeEd25519(e.a[:])
	if err != nil {
		return e
	}
	e.negA.Negate(a)
	e.valid = true
	return e
}

// edwards returns k's decoded Ed25519 key, decoding pub on first use, race-free.
func (k *Key) edwards(pub ed25519.PublicKey) *edPublic {
	if e := k.ed.Load(); e != nil {
		return e
	}
	k.ed.CompareAndSwap(nil, newEdPublic(pub))
	return k.ed.Load()
}

// verifyEdDSA checks a pure Ed25519 signature (RFC 8032 §5.1.7, as crypto/ed25519 checks it:
// S must be canonical, and the check is [S]B = R + [k]A without the cofactor, R compared as
// encoded).
func (k *Key) verifyEdDSA(signingInput string, sig []byte) error {
	pub, ok := k.Public.(ed25519.PublicKey)
	if !ok || len(pub) != ed25519.PublicKeySize {
		return errKeyType
	}
	if len(sig) != ed25519.SignatureSize {
		return errEdDSASize
	}
	e := k.edwards(pub)
	if !e.valid {
		return ErrSignature
	}
	// In FIPS 140-only mode, only the standard library's validated module may verify.
	if fips140.Enabled() {
		if !ed25519.Verify(pub, stringBytes(signingInput), sig) {
			return ErrSignature
		}
		return nil
	}
	if sig[63]&0xe0 != 0 { // the top three bits of S are zero when S < l
		return ErrSignature
	}
	h := sha512.New()
	h.Write(sig[:32])
	h.Write(e.a[:])
	h.Write(stringBytes(signingInput))
	var digest [sha512.Size]byte
	kScalar, err := new(edwards25519.Scalar).SetUniformBytes(h.Sum(digest[:0]))
	if err != nil {
		return ErrSignature
	}
	s, err := new(edwards25519.Scalar).SetCanonicalBytes(sig[32:])
	if err != nil {
		return ErrSignature
	}
	// [S]B = R + [k]A, computed as R' = [k](-A) + [S]B and compared with R.
	var r edwards25519.Point
	r.VarTimeDoubleScalarBaseMult(kScalar, &e.negA, s)
	if !bytes.Equal(sig[:32], r.Bytes()) {
		return ErrSignature
	}
	return nil
}
