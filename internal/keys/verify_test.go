package keys

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"testing"
)

// testKeys returns a loaded key and its private counterpart for each algorithm family.
func testKeys(t *testing.T) (hs, rs, es256, es384, es512, ed *Key, privs map[*Key]any) {
	t.Helper()
	secret := randomBytes(64)
	var err error
	if hs, err = FromSecret(secret, "secret"); err != nil {
		t.Fatal(err)
	}
	pemKey := func(pub any) *Key {
		k, err := ParsePEM(spkiPEM(t, pub), "public_key")
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	rs = pemKey(&testRSA(t, 2048).PublicKey)
	es256 = pemKey(&testEC(t, "P-256").PublicKey)
	es384 = pemKey(&testEC(t, "P-384").PublicKey)
	es512 = pemKey(&testEC(t, "P-521").PublicKey)
	ed = pemKey(testEd(t).Public())
	privs = map[*Key]any{hs: secret, rs: testRSA(t, 2048), es256: testEC(t, "P-256"), es384: testEC(t, "P-384"), es512: testEC(t, "P-521"), ed: testEd(t)}
	return
}

func TestVerifyGood(t *testing.T) {
	hs, rs, es256, es384, es512, ed, privs := testKeys(t)
	tests := []struct {
		alg string
		key *Key
	}{
		{"HS256", hs}, {"HS384", hs}, {"HS512", hs},
		{"RS256", rs}, {"RS384", rs}, {"RS512", rs},
		{"PS256", rs}, {"PS384", rs}, {"PS512", rs},
		{"ES256", es256}, {"ES384", es384}, {"ES512", es512},
		{"EdDSA", ed},
		{"Ed25519", ed}, // RFC 9864's name, for the same key
	}
	for _, tt := range tests {
		t.Run(tt.alg, func(t *testing.T) {
			sig := sign(t, tt.alg, privs[tt.key], testSigningInput)
			if err := tt.key.Verify(tt.alg, testSigningInput, sig); err != nil {
				t.Fatalf("valid signature refused: %v", err)
			}
			// A changed signing input or signature is refused.
			if err := tt.key.Verify(tt.alg, testSigningInput+"x", sig); !errors.Is(err, ErrSignature) {
				t.Errorf("changed input: err = %v, want ErrSignature", err)
			}
			bad := append([]byte(nil), sig...)
			bad[len(bad)/3] ^= 1
			if err := tt.key.Verify(tt.alg, testSigningInput, bad); !errors.Is(err, ErrSignature) {
				t.Errorf("changed signature: err = %v, want ErrSignature", err)
			}
			if err := tt.key.Verify(tt.alg, testSigningInput, sig[:len(sig)-1]); !errors.Is(err, ErrSignature) {
				t.Errorf("short signature: err = %v, want ErrSignature", err)
			}
		})
	}
}

// TestVerifyECDSAMany verifies many signatures per curve, so that r and s with the top bit set
// (DER needs a 0x00 in front) and with leading zero bytes (stripped) all go through derSignature.
func TestVerifyECDSAMany(t *testing.T) {
	_, _, es256, es384, es512, _, privs := testKeys(t)
	for _, tt := range []struct {
		alg string
		key *Key
	}{{"ES256", es256}, {"ES384", es384}, {"ES512", es512}} {
		for i := range 300 {
			input := fmt.Sprintf("%s.%d", testSigningInput, i)
			sig := sign(t, tt.alg, privs[tt.key], input)
			if err := tt.key.Verify(tt.alg, input, sig); err != nil {
				t.Fatalf("%s signature %d refused: %v", tt.alg, i, err)
			}
			sig[len(sig)-1] ^= 1
			if err := tt.key.Verify(tt.alg, input, sig); !errors.Is(err, ErrSignature) {
				t.Fatalf("%s signature %d with s changed: err = %v, want ErrSignature", tt.alg, i, err)
			}
		}
	}
}

// TestDERSignature checks derSignature against encoding/asn1 on the edge cases of each size.
func TestDERSignature(t *testing.T) {
	for _, size := range []int{32, 48, 66} {
		values := map[string][]byte{
			"zero":         make([]byte, size),
			"one":          append(make([]byte, size-1), 1),
			"top bit set":  append([]byte{0x80}, make([]byte, size-1)...),
			"all ones":     bytes.Repeat([]byte{0xff}, size),
			"0x7f first":   append([]byte{0x7f}, bytes.Repeat([]byte{0xff}, size-1)...),
			"leading 00":   append([]byte{0, 0x80}, bytes.Repeat([]byte{1}, size-2)...),
			"leading 0000": append([]byte{0, 0, 0x01}, bytes.Repeat([]byte{2}, size-3)...),
		}
		for rName, r := range values {
			for sName, s := range values {
				want, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(r), new(big.Int).SetBytes(s)})
				if err != nil {
					t.Fatal(err)
				}
				var buf [maxECDSADER]byte
				got := derSignature(buf[:0], r, s)
				if !bytes.Equal(got, want) {
					t.Errorf("size %d, r %s, s %s:\n got %x\nwant %x", size, rName, sName, got, want)
				}
				if len(got) > maxECDSADER {
					t.Errorf("size %d, r %s, s %s: %d bytes, more than maxECDSADER", size, rName, sName, len(got))
				}
			}
		}
	}
}

func TestVerifyRefusals(t *testing.T) {
	hs, rs, es256, _, es512, ed, privs := testKeys(t)
	rsaPEM := spkiPEM(t, &testRSA(t, 2048).PublicKey)

	derSig, err := ecdsa.SignASN1(rand.Reader, testEC(t, "P-256"), digestOf(algHash("ES256"), testSigningInput))
	if err != nil {
		t.Fatal(err)
	}
	good256 := sign(t, "ES256", privs[es256], testSigningInput)
	zeroR := append(make([]byte, 32), good256[32:]...)
	zeroS := append(append([]byte(nil), good256[:32]...), make([]byte, 32)...)
	// s replaced by n - s is also a valid signature (ECDSA malleability), but s = n is not.
	nBytes := es256.Public.(*ecdsa.PublicKey).Curve.Params().N.FillBytes(make([]byte, 32))
	sIsN := append(append([]byte(nil), good256[:32]...), nBytes...)
	pssMaxSalt, err := rsa.SignPSS(rand.Reader, testRSA(t, 2048), algHash("PS256"), digestOf(algHash("PS256"), testSigningInput), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
	if err != nil {
		t.Fatal(err)
	}

	// Hand-built keys whose Algs lie about their type: Verify must still refuse.
	rsaAsHMAC := &Key{Algs: []string{"HS256"}, Public: &testRSA(t, 2048).PublicKey}
	pemAsHMAC := &Key{Algs: []string{"HS256"}, Public: "not bytes"}
	p256AsES512 := &Key{Algs: []string{"ES512"}, Public: es256.Public}
	edWrongSize := &Key{Algs: []string{"EdDSA"}, Public: es256.Public}
	unknownAlg := &Key{Algs: []string{"XS256"}, Public: []byte("k")}

	tests := []struct {
		name string
		key  *Key
		alg  string
		sig  []byte
		want error
	}{
		{"HMAC secret asked for RS256", hs, "RS256", sign(t, "RS256", testRSA(t, 2048), testSigningInput), ErrAlgorithm},
		{"RSA key asked for HS256", rs, "HS256", sign(t, "HS256", rsaPEM, testSigningInput), ErrAlgorithm},
		{"RSA key asked for ES256", rs, "ES256", good256, ErrAlgorithm},
		{"P-256 key asked for ES384", es256, "ES384", sign(t, "ES384", testEC(t, "P-384"), testSigningInput), ErrAlgorithm},
		{"Ed25519 key asked for HS256", ed, "HS256", sign(t, "HS256", []byte(ed.Public.(ed25519.PublicKey)), testSigningInput), ErrAlgorithm},
		{"alg none", hs, "none", nil, ErrAlgorithm},
		{"alg in another case", hs, "hs256", sign(t, "HS256", privs[hs], testSigningInput), ErrAlgorithm},
		{"ES256 DER signature", es256, "ES256", derSig, errECDSAForm},
		{"ES256 zero signature", es256, "ES256", make([]byte, 64), ErrSignature},
		{"ES256 r zero", es256, "ES256", zeroR, ErrSignature},
		{"ES256 s zero", es256, "ES256", zeroS, ErrSignature},
		{"ES256 s = n", es256, "ES256", sIsN, ErrSignature},
		{"ES512 signature of 2*64 bytes", es512, "ES512", make([]byte, 128), errECDSAForm},
		{"ES256 empty signature", es256, "ES256", nil, errECDSAForm},
		{"HS256 empty signature", hs, "HS256", nil, ErrSignature},
		{"EdDSA 63-byte signature", ed, "EdDSA", make([]byte, 63), errEdDSASize},
		{"RSA zero signature", rs, "RS256", make([]byte, 256), ErrSignature},
		{"PS256 with the maximum salt length", rs, "PS256", pssMaxSalt, nil},
		{"PS256 signature as RS256", rs, "RS256", sign(t, "PS256", testRSA(t, 2048), testSigningInput), ErrSignature},
		{"hand-built RSA key allowed HS256", rsaAsHMAC, "HS256", sign(t, "HS256", rsaPEM, testSigningInput), errKeyType},
		{"hand-built non-bytes HMAC key", pemAsHMAC, "HS256", sign(t, "HS256", []byte("not bytes"), testSigningInput), errKeyType},
		{"hand-built P-256 key allowed ES512", p256AsES512, "ES512", make([]byte, 132), errKeyType},
		{"hand-built EdDSA key of another type", edWrongSize, "EdDSA", make([]byte, 64), errKeyType},
		{"hand-built key with an unknown alg", unknownAlg, "XS256", []byte("x"), ErrAlgorithm},
		{"nil key", nil, "HS256", []byte("x"), ErrAlgorithm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.key.Verify(tt.alg, testSigningInput, tt.sig)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			// Only an alg refusal is not a signature failure.
			if errors.Is(err, ErrSignature) == (tt.want == ErrAlgorithm) {
				t.Errorf("err = %v: ErrSignature wrapping is wrong", err)
			}
		})
	}
}

// A Key written as a literal (no pools made at load time) verifies HMAC too, also when first used
// by many goroutines at once; the race detector checks the lazy pool creation.
func TestVerifyHMACLiteralConcurrent(t *testing.T) {
	secret := randomBytes(48)
	k := &Key{Algs: []string{"HS256", "HS384"}, Public: secret}
	good := map[string][]byte{"HS256": sign(t, "HS256", secret, testSigningInput), "HS384": sign(t, "HS384", secret, testSigningInput)}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			alg := "HS256"
			if i%2 == 1 {
				alg = "HS384"
			}
			for range 50 {
				if err := k.Verify(alg, testSigningInput, good[alg]); err != nil {
					errs <- err
					return
				}
				// A failed check must not leave a pooled HMAC in a state that breaks the next one.
				if err := k.Verify(alg, testSigningInput+".", good[alg]); !errors.Is(err, ErrSignature) {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
