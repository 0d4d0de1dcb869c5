package keys

import (
	"bytes"
	"crypto/ed25519"
	"crypto/fips140"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// edKey returns a Key for pub, built as a literal so that it is checked on first use.
func edKey(pub []byte) *Key {
	return &Key{Algs: []string{"EdDSA"}, Public: ed25519.PublicKey(pub), Origin: "test"}
}

// checkSameAsStd fails unless Key.Verify and crypto/ed25519.Verify agree on (pub, msg, sig).
func checkSameAsStd(t *testing.T, name string, pub, msg, sig []byte) bool {
	t.Helper()
	std := len(sig) == ed25519.SignatureSize && ed25519.Verify(pub, msg, sig)
	err := edKey(pub).Verify("EdDSA", string(msg), sig)
	if got := err == nil; got != std {
		t.Errorf("%s: Key.Verify accepts = %v (%v), crypto/ed25519 accepts = %v", name, got, err, std)
		return false
	}
	if err != nil && !errors.Is(err, ErrSignature) {
		t.Errorf("%s: err = %v, want ErrSignature", name, err)
	}
	return std
}

// TestEdDSAMatchesStandardLibrary holds Key.Verify to crypto/ed25519's answers for real keys (the
// key check, the copy of the key and the signing input's bytes are Gatehouse's): on valid
// signatures, on every single-bit change of a signature, on S pushed out of canonical range, and
// on small-order and non-canonical R.
func TestEdDSAMatchesStandardLibrary(t *testing.T) {
	for i := range 8 {
		pub, priv, err := ed25519.GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		msg := fmt.Appendf(nil, "%s.%d", testSigningInput, i)
		sig := ed25519.Sign(priv, msg)
		if !checkSameAsStd(t, "valid", pub, msg, sig) {
			t.Fatal("a valid signature was refused by both")
		}
		for bit := range 8 * len(sig) {
			bad := slices.Clone(sig)
			bad[bit/8] ^= 1 << (bit % 8)
			checkSameAsStd(t, fmt.Sprintf("key %d, signature bit %d flipped", i, bit), pub, msg, bad)
		}
		badMsg := slices.Clone(msg)
		badMsg[0] ^= 1
		checkSameAsStd(t, "changed message", pub, badMsg, sig)

		// S + l is the same scalar, not canonical: refused (signature malleability).
		s := new(big.Int).SetBytes(reverse(sig[32:]))
		s.Add(s, edOrder)
		sPlusL := reverse(s.FillBytes(make([]byte, 32))) // S < l < 2^253, so S + l fits
		checkSameAsStd(t, "S + l", pub, msg, append(slices.Clone(sig[:32]), sPlusL...))
	}

	// Non-canonical R encodings and S = 0 with a real key: refused by both.
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	zero := make([]byte, 32)
	msg := []byte(testSigningInput)
	for _, r := range [][]byte{edSmallOrder, edNonCanonicalIdentity, edOrderTwo, zero} {
		checkSameAsStd(t, fmt.Sprintf("R %x..., S 0", r[:2]), pub, msg, append(slices.Clone(r), zero...))
	}
}

// TestEdDSAKeysThatDoNotLoad checks that a Key built by hand around a public key the loaders
// refuse verifies nothing, where crypto/ed25519 accepts R = identity, S = 0 for any message
// under the identity key: the key check is not only at load.
func TestEdDSAKeysThatDoNotLoad(t *testing.T) {
	zero := make([]byte, 32)
	forged := append(slices.Clone(edSmallOrder), zero...) // R = identity, S = 0
	if !ed25519.Verify(edSmallOrder, []byte(testSigningInput), forged) {
		t.Fatal("crypto/ed25519 refuses the forgery; this test no longer shows why small-order keys are refused")
	}
	for name, pub := range map[string]ed25519.PublicKey{
		"identity": edSmallOrder, "identity, non-canonical": edNonCanonicalIdentity,
		"order 2": edOrderTwo, "off the curve": edOffCurve, "not canonical": edNonCanonical,
	} {
		k := edKey(pub)
		if k.checkedEd25519(pub).valid {
			t.Errorf("%s: checked as a valid key", name)
		}
		for _, r := range [][]byte{edSmallOrder, edOrderTwo, zero} {
			if err := k.Verify("EdDSA", testSigningInput, append(slices.Clone(r), zero...)); !errors.Is(err, ErrSignature) {
				t.Errorf("%s, R %x...: err = %v, want ErrSignature", name, r[:2], err)
			}
		}
		if err := checkEd25519(pub); err == nil {
			t.Errorf("%s: checkEd25519 accepted it", name)
		}
	}
}

// TestEdDSANonCanonicalKeyRefusedAtLoad checks that the loaders refuse an encoding RFC 8032
// §5.1.3 does not decode (y >= p) although it names a point of large order, in a PEM file and
// in a JWK Set alike.
func TestEdDSANonCanonicalKeyRefusedAtLoad(t *testing.T) {
	const want = "not canonically encoded"
	if _, err := ParsePEM(spkiPEM(t, edNonCanonical), "public_key k.pem"); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("ParsePEM: err = %v, want one containing %q", err, want)
	}
	if _, err := ParseJWKS(setJSON(edJWK(edNonCanonical, nil)), "jwks_file k.json"); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("ParseJWKS: err = %v, want one containing %q", err, want)
	}
}

// TestEdDSACheckedOnce checks that a key is checked once, verifies with its own copy of the
// checked bytes (a caller's slice turned into the identity afterwards lets no forgery through),
// and that keys narrowed by withAlgs share the checked key.
func TestEdDSACheckedOnce(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	sig := ed25519.Sign(priv, []byte(testSigningInput))
	owned := slices.Clone(pub)
	k := edKey(owned)
	if err := k.Verify("EdDSA", testSigningInput, sig); err != nil {
		t.Fatal(err)
	}
	first := k.ed.Load()
	if first == nil {
		t.Fatal("the checked key was not kept")
	}
	copy(owned, edSmallOrder) // the caller's slice becomes the identity; the checked key does not
	if err := k.Verify("EdDSA", testSigningInput, sig); err != nil || k.ed.Load() != first {
		t.Errorf("after the caller changed its slice: err = %v, checked again = %v", err, k.ed.Load() != first)
	}
	forged := append(slices.Clone(edSmallOrder), make([]byte, 32)...) // R = identity, S = 0
	if err := k.Verify("EdDSA", testSigningInput, forged); !errors.Is(err, ErrSignature) {
		t.Errorf("a forgery for the identity verified once the caller's slice held it: err = %v", err)
	}
	if nk := k.withAlgs([]string{"EdDSA"}); nk.ed.Load() != first {
		t.Error("withAlgs did not share the checked key")
	}
}

// TestEdDSAFIPSOnly runs the package's EdDSA tests again in a child process with
// GODEBUG=fips140=on, where crypto/ed25519 verifies with the validated module: the key checks
// still hold there.
func TestEdDSAFIPSOnly(t *testing.T) {
	if os.Getenv("GATEHOUSE_FIPS_CHILD") == "1" {
		if !fips140.Enabled() {
			t.Fatal("fips140 mode is not on in the child")
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^(TestEdDSAFIPSOnly|TestEdDSAMatchesStandardLibrary|TestEdDSAKeysThatDoNotLoad|TestEdDSACheckedOnce|TestVerifyGood)$", "-test.count", "1")
	cmd.Env = append(os.Environ(), "GATEHOUSE_FIPS_CHILD=1", "GODEBUG=fips140=on")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("tests with GODEBUG=fips140=on failed: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("PASS")) {
		t.Fatalf("the child ran no test:\n%s", out)
	}
}

// Ed25519 public keys that must not load: the identity (also encoded non-canonically, as
// y = p + 1) and the point of order 2 (y = -1), all of small order; y = 2, which is not on the
// curve; and y = p + 3, a point of large order (y = 3) encoded non-canonically.
var (
	edSmallOrder           = ed25519.PublicKey(append([]byte{1}, make([]byte, 31)...))
	edNonCanonicalIdentity = ed25519.PublicKey(append(append([]byte{0xee}, bytes.Repeat([]byte{0xff}, 30)...), 0x7f))
	edOrderTwo             = ed25519.PublicKey(append(append([]byte{0xec}, bytes.Repeat([]byte{0xff}, 30)...), 0x7f))
	edOffCurve             = ed25519.PublicKey(append([]byte{2}, make([]byte, 31)...))
	edNonCanonical         = ed25519.PublicKey(append(append([]byte{0xf0}, bytes.Repeat([]byte{0xff}, 30)...), 0x7f))
)

// edOrder is l, the order of the Ed25519 base point.
var edOrder, _ = new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)

// reverse returns b's bytes in reverse order (Ed25519 scalars are little-endian).
func reverse(b []byte) []byte {
	r := slices.Clone(b)
	slices.Reverse(r)
	return r
}
