package keys

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"testing"

	"filippo.io/edwards25519"
)

// checkEd25519Reference is the key check as filippo.io/edwards25519 states it: decode the
// point, multiply by the cofactor, re-encode. checkEd25519 must give the same answer, with the
// same message, for every 32-byte input.
func checkEd25519Reference(pub []byte) error {
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

// TestEd25519CheckMatchesEdwards25519 holds checkEd25519 (math/big, so that it runs under
// Traefik's interpreter too) to filippo.io/edwards25519 on the inputs where the rules bite: the
// eight points of small order in both sign encodings, every y >= p (the non-canonical
// encodings) with both signs, real keys, single-bit changes of real keys, and random bytes
// (about half of which are points).
func TestEd25519CheckMatchesEdwards25519(t *testing.T) {
	var inputs [][]byte
	le := func(n *big.Int, sign bool) []byte {
		b := make([]byte, 32)
		n.FillBytes(b)
		for i, j := 0, 31; i < j; i, j = i+1, j-1 {
			b[i], b[j] = b[j], b[i]
		}
		if sign {
			b[31] |= 0x80
		}
		return b
	}
	for _, y := range ed25519SmallOrderY {
		inputs = append(inputs, le(y, false), le(y, true))
	}
	for _, h := range []string{ // the order-8 points as libsodium's blocklist writes them
		"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
		"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
	} {
		b, _ := hex.DecodeString(h)
		if checkEd25519Reference(b) == nil {
			t.Fatalf("%s is not of small order for edwards25519; the test's list is wrong", h)
		}
		inputs = append(inputs, b)
	}
	for i := range int64(19) { // y = p + i, all of y >= p below 2^255
		y := new(big.Int).Add(ed25519P, big.NewInt(i))
		inputs = append(inputs, le(y, false), le(y, true))
	}
	for range 16 {
		pub, _, err := ed25519.GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, pub)
		for bit := 0; bit < 256; bit += 7 {
			b := bytes.Clone(pub)
			b[bit/8] ^= 1 << (bit % 8)
			inputs = append(inputs, b)
		}
	}
	for range 2000 {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, b)
	}
	counts := map[string]int{}
	for _, in := range inputs {
		got, want := checkEd25519(in), checkEd25519Reference(in)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%x: checkEd25519 = %v, edwards25519 says %v", in, got, want)
		}
		counts[fmt.Sprint(want)]++
	}
	// Every outcome must have been exercised, or the comparison proves less than it says.
	if len(counts) != 4 {
		t.Errorf("outcomes seen: %v; want all four (nil, off the curve, small order, not canonical)", counts)
	}
}
