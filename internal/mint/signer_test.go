package mint

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/keys"
)

// Every algorithm signs tokens that our verifier (over a ring of the signer) and golang-jwt (with
// the key published in the ring's JWK Set) both accept.
func TestSignerAlgorithms(t *testing.T) {
	now := newClock().Now
	for _, alg := range allAlgs {
		t.Run(alg, func(t *testing.T) {
			s := signerFor(t, alg)
			if s.Alg != alg {
				t.Fatalf("Alg = %q, want %q", s.Alg, alg)
			}
			payload := `{"token_type":"access","exp":` + itoa(now().Unix()+60) + `,"iat":` + itoa(now().Unix()) + `,"user_id":"alice"}`
			raw, err := s.Sign([]byte(payload))
			if err != nil {
				t.Fatal(err)
			}
			ring := StaticRing(s)
			c := verifyOurs(t, ring, now, "", raw)
			if v, _ := c.Get("user_id"); v.Text != "alice" {
				t.Fatalf("user_id = %q", v.Text)
			}
			mc := verifyGolangJWT(t, ring, now, raw)
			if mc["user_id"] != "alice" {
				t.Fatalf("golang-jwt user_id = %v", mc["user_id"])
			}
			header, body := parts(t, raw)
			want := `{"alg":"` + alg + `","typ":"JWT","kid":"` + s.Kid + `"}`
			if alg == "HS256" {
				want = `{"alg":"HS256","typ":"JWT"}` // simplejwt's header, byte for byte
			}
			if header != want {
				t.Fatalf("header = %s, want %s", header, want)
			}
			if body != payload {
				t.Fatalf("payload = %s, want %s", body, payload)
			}
			sig, err := b64.DecodeString(raw[strings.LastIndexByte(raw, '.')+1:])
			if err != nil {
				t.Fatal(err)
			}
			if len(sig) != s.sigSize() {
				t.Fatalf("signature is %d bytes, want %d", len(sig), s.sigSize())
			}
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// ECDSA signatures are the fixed-size r||s of RFC 7518 §3.4 (never DER, whose length varies),
// so they verify every time, including when r or s has leading zero bytes.
func TestSignerECDSAFixedSize(t *testing.T) {
	for alg, size := range map[string]int{"ES256": 64, "ES384": 96, "ES512": 132} {
		s := signerFor(t, alg)
		ring := StaticRing(s)
		now := newClock().Now
		for i := 0; i < 200; i++ {
			raw, err := s.Sign([]byte(`{"exp":` + itoa(now().Unix()+60) + `}`))
			if err != nil {
				t.Fatal(err)
			}
			sig, _ := b64.DecodeString(raw[strings.LastIndexByte(raw, '.')+1:])
			if len(sig) != size {
				t.Fatalf("%s signature is %d bytes, want %d", alg, len(sig), size)
			}
			verifyOurs(t, ring, now, "", raw)
		}
	}
}

// The kid is the RFC 7638 thumbprint: the RFC's own example (§3.1) gives the expected value.
func TestThumbprintRFC7638(t *testing.T) {
	n, _ := b64.DecodeString("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537}
	m, err := jwkMembers(pub)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := thumbprint(m), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want {
		t.Fatalf("thumbprint = %s, want %s", got, want)
	}
}

// PublicJWK carries the public members, kid, alg and use, and nothing private.
func TestPublicJWK(t *testing.T) {
	tests := []struct {
		alg     string
		members []string
	}{
		{"ES256", []string{"alg", "crv", "kid", "kty", "use", "x", "y"}},
		{"ES512", []string{"alg", "crv", "kid", "kty", "use", "x", "y"}},
		{"EdDSA", []string{"alg", "crv", "kid", "kty", "use", "x"}},
		{"PS256", []string{"alg", "e", "kid", "kty", "n", "use"}},
	}
	for _, tt := range tests {
		s := signerFor(t, tt.alg)
		jwk, ok := s.PublicJWK()
		if !ok {
			t.Fatalf("%s: no JWK", tt.alg)
		}
		var names []string
		for k := range jwk {
			names = append(names, k)
		}
		slices.Sort(names)
		if strings.Join(names, ",") != strings.Join(tt.members, ",") {
			t.Fatalf("%s: members %v, want %v", tt.alg, names, tt.members)
		}
		if jwk["kid"] != s.Kid || jwk["alg"] != tt.alg || jwk["use"] != "sig" {
			t.Fatalf("%s: jwk = %v", tt.alg, jwk)
		}
		if tt.alg == "ES512" {
			// P-521 coordinates are 66 bytes, full size even with leading zeros.
			for _, c := range []string{"x", "y"} {
				if b, _ := b64.DecodeString(jwk[c].(string)); len(b) != 66 {
					t.Fatalf("ES512 %s is %d bytes", c, len(b))
				}
			}
		}
	}
	if _, ok := signerFor(t, "HS256").PublicJWK(); ok {
		t.Fatal("an HMAC signer published a JWK")
	}
}

// VerifyKey is bound to the signer's one algorithm and kid.
func TestVerifyKey(t *testing.T) {
	for _, alg := range []string{"HS256", "RS256", "PS384", "ES256", "EdDSA"} {
		s := signerFor(t, alg)
		k := s.VerifyKey()
		if k.ID != s.Kid || len(k.Algs) != 1 || k.Algs[0] != alg {
			t.Fatalf("%s: VerifyKey id %q algs %v", alg, k.ID, k.Algs)
		}
	}
	// A 64-byte secret could verify HS512 in jwt_auth, but the issuer signs HS256 only.
	if k := signerFor(t, "HS256").VerifyKey(); k.Allows("HS512") {
		t.Fatal("HMAC verify key allows HS512")
	}
}

func TestNewHMAC(t *testing.T) {
	tests := []struct {
		name    string
		secret  string
		wantErr string
	}{
		{"32 bytes", strings.Repeat("k", 32), ""},
		{"31 bytes", strings.Repeat("k", 31), "at least 32"},
		{"empty", "", "at least 32"},
		{"PEM", "-----BEGIN PUBLIC KEY-----\n" + strings.Repeat("A", 64) + "\n-----END PUBLIC KEY-----\n", "looks like a PEM key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewHMAC([]byte(tt.secret))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), strings.Repeat("A", 16)) {
					t.Fatal("error contains the secret")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Alg != "HS256" || s.Kid != "" {
				t.Fatalf("alg %q kid %q", s.Alg, s.Kid)
			}
			if _, err := s.MarshalPEM(); err == nil {
				t.Fatal("an HMAC secret was marshalled for storage")
			}
		})
	}
	// The signer keeps its own copy: changing the caller's slice later changes nothing.
	secret := []byte(strings.Repeat("s", 32))
	s, _ := NewHMAC(secret)
	before, _ := s.Sign([]byte(`{}`))
	secret[0] = 'x'
	if after, _ := s.Sign([]byte(`{}`)); after != before {
		t.Fatal("signer follows changes to the caller's secret")
	}
}

func TestGenerate(t *testing.T) {
	tests := []struct {
		alg  string
		kind string
	}{
		{"ES256", "p256"},
		{"EdDSA", "ed25519"},
		{"RS256", "rsa3072"},
	}
	for _, tt := range tests {
		t.Run(tt.alg, func(t *testing.T) {
			s, err := Generate(tt.alg)
			if err != nil {
				t.Fatal(err)
			}
			switch p := s.priv.(type) {
			case *ecdsa.PrivateKey:
				if tt.kind != "p256" || p.Curve != elliptic.P256() {
					t.Fatalf("got ECDSA %s", p.Curve.Params().Name)
				}
			case ed25519.PrivateKey:
				if tt.kind != "ed25519" {
					t.Fatal("got Ed25519")
				}
			case *rsa.PrivateKey:
				if tt.kind != "rsa3072" || p.N.BitLen() != 3072 {
					t.Fatalf("got RSA %d", p.N.BitLen())
				}
			}
			if s.Alg != tt.alg || len(s.Kid) != 43 {
				t.Fatalf("alg %q kid %q", s.Alg, s.Kid)
			}
			// Stored and read back, the key is the same key.
			p, err := s.MarshalPEM()
			if err != nil {
				t.Fatal(err)
			}
			back, err := ParsePEM(p, tt.alg)
			if err != nil {
				t.Fatal(err)
			}
			if back.Kid != s.Kid {
				t.Fatal("kid changed through MarshalPEM/ParsePEM")
			}
		})
	}
	for _, alg := range []string{"HS256", "ES384", "PS256", "none", ""} {
		if _, err := Generate(alg); err == nil || !strings.Contains(err.Error(), "use ES256, EdDSA or RS256") {
			t.Fatalf("Generate(%q): err = %v", alg, err)
		}
	}
	a, _ := Generate("EdDSA")
	b, _ := Generate("EdDSA")
	if a.Kid == b.Kid {
		t.Fatal("two generated keys have the same kid")
	}
}

// A static ring publishes its key's JWK, which keys.ParseJWKS (jwt_auth's jwks_url) reads back
// with the same kid, pinned to the signer's algorithm.
func TestStaticRingJWKS(t *testing.T) {
	for _, alg := range []string{"ES256", "ES384", "ES512", "EdDSA", "RS256", "PS512"} {
		s := signerFor(t, alg)
		jwk, _ := s.PublicJWK()
		want, _ := json.Marshal(map[string]any{"keys": []any{jwk}})
		ring := StaticRing(s)
		if string(ring.JWKS()) != string(want) {
			t.Fatalf("%s: JWKS = %s, want %s", alg, ring.JWKS(), want)
		}
		ks, err := keys.ParseJWKS(ring.JWKS(), "test")
		if err != nil {
			t.Fatal(err)
		}
		if len(ks) != 1 || ks[0].ID != s.Kid || len(ks[0].Algs) != 1 || ks[0].Algs[0] != alg {
			t.Fatalf("%s: parsed %d keys, first id %q algs %v", alg, len(ks), ks[0].ID, ks[0].Algs)
		}
	}
}
