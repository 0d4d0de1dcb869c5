package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"math/big"
	"slices"
	"strings"
	"testing"
)

func TestParseJWKS(t *testing.T) {
	rsaPub := &testRSA(t, 2048).PublicKey
	rsa2 := &rsa.PublicKey{N: rsaPub.N, E: 3}
	p256 := &testEC(t, "P-256").PublicKey
	p384 := &testEC(t, "P-384").PublicKey
	p521 := &testEC(t, "P-521").PublicKey
	ed := testEd(t).Public().(ed25519.PublicKey)
	secret := randomBytes(48)

	// (x, y+1) is not on P-256.
	offY := new(big.Int).Add(p256.Y, big.NewInt(1))
	offCurve := &ecdsa.PublicKey{Curve: p256.Curve, X: p256.X, Y: offY}

	type want struct {
		kid  string
		algs []string
		pub  any
	}
	tests := []struct {
		name    string
		data    []byte
		want    []want
		wantErr string
	}{
		{"RSA", setJSON(rsaJWK(rsaPub, map[string]any{"kid": "r1"})), []want{{"r1", rsaAlgs, rsaPub}}, ""},
		{"RSA e=3", setJSON(rsaJWK(rsa2, nil)), []want{{"", rsaAlgs, rsa2}}, ""},
		{"RSA pinned", setJSON(rsaJWK(rsaPub, map[string]any{"alg": "PS256", "use": "sig"})), []want{{"", []string{"PS256"}, rsaPub}}, ""},
		{"RSA 1024 refused", setJSON(rsaJWK(&testRSA(t, 1024).PublicKey, map[string]any{"kid": "weak"})), nil, `key 0 (kid "weak"): RSA key is 1024 bits; at least 2048`},
		{"RSA even e refused", setJSON(rsaJWK(&rsa.PublicKey{N: rsaPub.N, E: 4}, nil)), nil, "RSA public exponent 4 is invalid"},
		{"RSA e=1 refused", setJSON(rsaJWK(&rsa.PublicKey{N: rsaPub.N, E: 1}, nil)), nil, "RSA public exponent 1 is invalid"},
		{"RSA huge e refused", setJSON(jwkJSON(map[string]any{"kty": "RSA", "n": b64(rsaPub.N.Bytes()), "e": b64([]byte{1, 0, 0, 0, 1})})), nil, "RSA public exponent is 5 bytes"},
		{"RSA no n", setJSON(jwkJSON(map[string]any{"kty": "RSA", "e": "AQAB"})), nil, `member "n" is missing`},
		{"RSA bad base64", setJSON(jwkJSON(map[string]any{"kty": "RSA", "n": "a+b/", "e": "AQAB"})), nil, `member "n" is not base64url`},
		{"RSA padded base64 tolerated", setJSON(jwkJSON(map[string]any{"kty": "RSA", "n": b64(rsaPub.N.Bytes()), "e": "AQAB=="})), []want{{"", rsaAlgs, rsaPub}}, ""},
		{"RSA with alg HS256", setJSON(rsaJWK(rsaPub, map[string]any{"alg": "HS256"})), nil, `"alg":"HS256" does not fit this RSA key, which can verify: RS256`},
		{"P-256", setJSON(ecJWK(p256, "P-256", map[string]any{"kid": "e1"})), []want{{"e1", []string{"ES256"}, p256}}, ""},
		{"P-384", setJSON(ecJWK(p384, "P-384", nil)), []want{{"", []string{"ES384"}, p384}}, ""},
		{"P-521", setJSON(ecJWK(p521, "P-521", map[string]any{"alg": "ES512"})), []want{{"", []string{"ES512"}, p521}}, ""},
		{"P-256 with alg ES384", setJSON(ecJWK(p256, "P-256", map[string]any{"alg": "ES384"})), nil, `"alg":"ES384" does not fit this EC P-256 key`},
		{"P-256 point off the curve", setJSON(ecJWK(offCurve, "P-256", nil)), nil, "EC P-256 point is not on the curve"},
		{"P-256 coordinate too long", setJSON(jwkJSON(map[string]any{"kty": "EC", "crv": "P-256", "x": b64(make([]byte, 33)), "y": b64(make([]byte, 32))})), nil, "coordinates must be 32 bytes"},
		{"P-256 zero point", setJSON(jwkJSON(map[string]any{"kty": "EC", "crv": "P-256", "x": b64(make([]byte, 32)), "y": b64(make([]byte, 32))})), nil, "not on the curve"},
		{"P-256 point named P-384", setJSON(ecJWK(p256, "P-384", nil)), nil, "EC P-384 point is not on the curve"},
		{"EC no y", setJSON(jwkJSON(map[string]any{"kty": "EC", "crv": "P-256", "x": b64(make([]byte, 32))})), nil, `member "y" is missing`},
		{"Ed25519", setJSON(edJWK(ed, map[string]any{"kid": "o1", "alg": "EdDSA"})), []want{{"o1", []string{"EdDSA"}, ed}}, ""},
		{"Ed25519 short x", setJSON(edJWK(ed[:31], nil)), nil, "an Ed25519 x member is 31 bytes; it must be 32"},
		{"Ed25519 identity (small order)", setJSON(edJWK(edSmallOrder, nil)), nil, "point of small order"},
		{"Ed25519 point of order 2", setJSON(edJWK(edOrderTwo, nil)), nil, "point of small order"},
		{"Ed25519 point off the curve", setJSON(edJWK(edOffCurve, nil)), nil, "Ed25519 public key is not a point on the curve"},
		{"Ed25519 pinned to Ed25519 (RFC 9864)", setJSON(edJWK(ed, map[string]any{"kid": "o2", "alg": "Ed25519"})), []want{{"o2", []string{"Ed25519"}, ed}}, ""},
		{"Ed25519 with alg Ed448", setJSON(edJWK(ed, map[string]any{"kid": "o3", "alg": "Ed448"}), edJWK(ed, nil)), []want{{"", []string{"EdDSA"}, ed}}, ""},
		{"RSA with alg Ed25519", setJSON(rsaJWK(rsaPub, map[string]any{"alg": "Ed25519"})), nil, `"alg":"Ed25519" does not fit this RSA key`},
		{"only skipped keys say why", setJSON(rsaJWK(rsaPub, map[string]any{"use": "enc", "kid": "e1"}), jwkJSON(map[string]any{"kty": "PQC"})), nil,
			`JWK Set has no usable signature key (supported: kty RSA, EC P-256/P-384/P-521, OKP Ed25519, oct; keys with "use":"enc" are skipped); ` +
				`key 0 (kid "e1"): "use":"enc" is not "sig"; key 1: "kty":"PQC" is not supported (RSA, EC, OKP, oct)`},
		{"Ed25519 with alg ES256", setJSON(edJWK(ed, map[string]any{"alg": "ES256"})), nil, `"alg":"ES256" does not fit this OKP Ed25519 key`},
		{"oct", setJSON(octJWK(secret, map[string]any{"kid": "h1"})), []want{{"h1", []string{"HS256", "HS384"}, secret}}, ""},
		{"oct short", setJSON(octJWK(secret[:31], nil)), nil, "secret is 31 bytes; HMAC needs at least 32"},
		{"oct alg too strong for its size", setJSON(octJWK(secret, map[string]any{"alg": "HS512"})), nil, `"alg":"HS512" needs a longer key; this oct key is 48 bytes`},
		{"oct alg RS256", setJSON(octJWK(secret, map[string]any{"alg": "RS256"})), nil, `"alg":"RS256" does not fit an oct (HMAC) key`},
		{"oct pinned", setJSON(octJWK(secret, map[string]any{"alg": "HS384"})), []want{{"", []string{"HS384"}, secret}}, ""},
		{"alg none", setJSON(rsaJWK(rsaPub, map[string]any{"alg": "none"})), nil, `"alg":"none" is never accepted`},
		{"alg NONE", setJSON(octJWK(secret, map[string]any{"alg": "NONE"})), nil, `is never accepted`},
		{"RSA private key", setJSON(rsaJWK(rsaPub, map[string]any{"d": "AQAB", "kid": "leak"})), nil, `key 0 (kid "leak"): JWKS contains a private key; publish only public keys`},
		{"RSA prime only", setJSON(rsaJWK(rsaPub, map[string]any{"p": "AQAB"})), nil, "JWKS contains a private key"},
		{"EC private key", setJSON(ecJWK(p256, "P-256", map[string]any{"d": b64(make([]byte, 32))})), nil, "JWKS contains a private key"},
		{"OKP private key", setJSON(edJWK(ed, map[string]any{"d": b64(make([]byte, 32))})), nil, "JWKS contains a private key"},
		{"private enc key", setJSON(rsaJWK(rsaPub, map[string]any{"use": "enc", "d": "AQAB"}), edJWK(ed, nil)), nil, "JWKS contains a private key"},
		{"enc skipped", setJSON(rsaJWK(rsaPub, map[string]any{"use": "enc", "kid": "enc"}), edJWK(ed, map[string]any{"kid": "sig"})), []want{{"sig", []string{"EdDSA"}, ed}}, ""},
		{"only enc", setJSON(rsaJWK(rsaPub, map[string]any{"use": "enc"})), nil, "JWK Set has no usable signature key"},
		{"key_ops without verify skipped", setJSON(rsaJWK(rsaPub, map[string]any{"key_ops": []string{"encrypt"}}), edJWK(ed, map[string]any{"key_ops": []string{"verify"}})), []want{{"", []string{"EdDSA"}, ed}}, ""},
		{"encryption alg skipped", setJSON(rsaJWK(rsaPub, map[string]any{"alg": "RSA-OAEP"}), edJWK(ed, nil)), []want{{"", []string{"EdDSA"}, ed}}, ""},
		{"unknown kty skipped", setJSON(jwkJSON(map[string]any{"kty": "PQC", "x": "AA"}), edJWK(ed, nil)), []want{{"", []string{"EdDSA"}, ed}}, ""},
		{"unknown curves skipped", setJSON(jwkJSON(map[string]any{"kty": "EC", "crv": "secp256k1", "x": "AA", "y": "AA"}), jwkJSON(map[string]any{"kty": "OKP", "crv": "X25519", "x": b64(ed)}), edJWK(ed, nil)), []want{{"", []string{"EdDSA"}, ed}}, ""},
		{"only unknown kty", setJSON(jwkJSON(map[string]any{"kty": "PQC"})), nil, "JWK Set has no usable signature key"},
		{"empty set", []byte(`{"keys":[]}`), nil, "no usable signature key"},
		{"duplicate kid", setJSON(edJWK(ed, map[string]any{"kid": "same"}), ecJWK(p256, "P-256", map[string]any{"kid": "same"})), []want{{"same", []string{"EdDSA"}, ed}, {"same", []string{"ES256"}, p256}}, ""},
		{"single JWK", []byte(edJWK(ed, nil)), nil, `this is a single JWK; a JWK Set wraps keys as {"keys":[...]}`},
		{"not JSON", []byte("-----BEGIN PUBLIC KEY-----"), nil, `not a JWK Set: expected a JSON object {"keys":[...]}`},
		{"array", []byte(`[]`), nil, `expected a JSON object {"keys":[...]}`},
		{"object without keys", []byte(`{}`), nil, `not a JWK Set`},
		{"keys not an array", []byte(`{"keys":{}}`), nil, `not a JWK Set`},
		{"trailing data", append(setJSON(edJWK(ed, nil)), "x"...), nil, `not a JWK Set`},
		{"kty not a string", setJSON(`{"kty":5}`), nil, "key 0: not a valid JWK"},
		{"key not an object", setJSON(`"x"`), nil, "key 0: not a valid JWK"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ks, err := ParseJWKS(tt.data, "jwks_file k.json")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				if !strings.HasPrefix(err.Error(), "jwks_file k.json: ") {
					t.Errorf("error does not name the origin: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(ks) != len(tt.want) {
				t.Fatalf("got %d keys, want %d", len(ks), len(tt.want))
			}
			for i, w := range tt.want {
				k := ks[i]
				if k.ID != w.kid || !slices.Equal(k.Algs, w.algs) || k.Origin != "jwks_file k.json" {
					t.Errorf("key %d: ID %q Algs %v Origin %q, want %q %v", i, k.ID, k.Algs, k.Origin, w.kid, w.algs)
				}
				if b, ok := w.pub.([]byte); ok {
					if got, _ := k.Public.([]byte); string(got) != string(b) {
						t.Errorf("key %d: wrong secret", i)
					}
				} else if eq, ok := k.Public.(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(w.pub) {
					t.Errorf("key %d: Public = %T, not the expected key", i, k.Public)
				}
			}
		})
	}
}

// ParseJWKSReport says which keys it skipped and why, without key material, so that callers can
// log them: a skipped key is never a silent mystery.
func TestParseJWKSReport(t *testing.T) {
	rsaPub := &testRSA(t, 2048).PublicKey
	ed := testEd(t).Public().(ed25519.PublicKey)
	long := strings.Repeat("k", 200)
	data := setJSON(
		rsaJWK(rsaPub, map[string]any{"kid": "enc-1", "use": "enc"}),
		rsaJWK(rsaPub, map[string]any{"kid": "ops", "key_ops": []string{"encrypt"}}),
		rsaJWK(rsaPub, map[string]any{"kid": "oaep", "alg": "RSA-OAEP"}),
		jwkJSON(map[string]any{"kty": "PQC", "x": b64(ed)}),
		jwkJSON(map[string]any{"kty": "EC", "crv": "secp256k1", "kid": "k1", "x": "AA", "y": "AA"}),
		jwkJSON(map[string]any{"kty": "OKP", "crv": "X25519", "kid": long, "x": b64(ed)}),
		edJWK(ed, map[string]any{"kid": "good", "alg": "Ed25519"}),
	)
	ks, skipped, err := ParseJWKSReport(data, "jwks_file k.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(ks) != 1 || ks[0].ID != "good" || !ks[0].Allows("EdDSA") || !ks[0].Allows("Ed25519") {
		t.Fatalf("usable keys: %d", len(ks))
	}
	want := []string{
		`key 0 (kid "enc-1"): "use":"enc" is not "sig"`,
		`key 1 (kid "ops"): "key_ops" does not include "verify"`,
		`key 2 (kid "oaep"): "alg":"RSA-OAEP" is not an algorithm Gatehouse verifies (supported: HS256,`,
		`key 3: "kty":"PQC" is not supported (RSA, EC, OKP, oct)`,
		`key 4 (kid "k1"): EC "crv":"secp256k1" is not supported (P-256, P-384, P-521)`,
		`key 5 (kid "` + long[:maxQuoted] + `..."): OKP "crv":"X25519" is not supported (Ed25519)`,
	}
	if len(skipped) != len(want) {
		t.Fatalf("skipped %v, want %d entries", skipped, len(want))
	}
	for i, w := range want {
		if got := skipped[i].String(); !strings.HasPrefix(got, w) {
			t.Errorf("skipped[%d] = %q, want it to start with %q", i, got, w)
		}
		if strings.Contains(skipped[i].String(), b64(ed)) || strings.Contains(skipped[i].String(), b64(rsaPub.N.Bytes())[:20]) {
			t.Errorf("skipped[%d] shows key material: %q", i, skipped[i])
		}
	}
	// A long member is quoted shortened.
	_, skipped, _ = ParseJWKSReport(setJSON(jwkJSON(map[string]any{"kty": long}), edJWK(ed, nil)), "")
	if len(skipped) != 1 || len(skipped[0].Reason) > 2*maxQuoted {
		t.Errorf("long kty: %v", skipped)
	}
}

// A set fetched from a URL may not carry symmetric keys: they would be published HMAC secrets.
func TestParseJWKSPublishedOct(t *testing.T) {
	_, _, err := parseJWKS(setJSON(octJWK(randomBytes(32), nil)), "", false)
	if err == nil || !strings.Contains(err.Error(), `symmetric (kty "oct") key in a published JWK Set`) {
		t.Fatalf("err = %v", err)
	}
}

// Keys from a JWK Set verify signatures of the matching private keys.
func TestParseJWKSVerifies(t *testing.T) {
	secret := randomBytes(64)
	data := setJSON(
		rsaJWK(&testRSA(t, 2048).PublicKey, map[string]any{"kid": "rsa"}),
		ecJWK(&testEC(t, "P-521").PublicKey, "P-521", map[string]any{"kid": "ec"}),
		edJWK(testEd(t).Public().(ed25519.PublicKey), map[string]any{"kid": "ed"}),
		octJWK(secret, map[string]any{"kid": "oct"}),
	)
	ks, err := ParseJWKS(data, "")
	if err != nil {
		t.Fatal(err)
	}
	privs := map[string]any{"rsa": testRSA(t, 2048), "ec": testEC(t, "P-521"), "ed": testEd(t), "oct": secret}
	algs := map[string]string{"rsa": "PS384", "ec": "ES512", "ed": "EdDSA", "oct": "HS512"}
	for _, k := range ks {
		alg := algs[k.ID]
		if err := k.Verify(alg, testSigningInput, sign(t, alg, privs[k.ID], testSigningInput)); err != nil {
			t.Errorf("%s %s: %v", k.ID, alg, err)
		}
	}
}
