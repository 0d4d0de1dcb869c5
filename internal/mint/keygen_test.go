package mint

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/keys"
)

// TestGenerateKey: every algorithm gets a key of its type and size, whose public PEM and JWK
// Set jwt_auth's parsers read back with the same kid, and which verify what it signs.
func TestGenerateKey(t *testing.T) {
	tests := []struct {
		alg  string
		bits int
		want string // curve name or RSA bits
	}{
		{"EdDSA", 0, ""}, {"ES256", 0, "P-256"}, {"ES384", 0, "P-384"}, {"ES512", 0, "P-521"},
		{"RS256", 0, "3072"}, {"RS384", 2048, "2048"}, {"PS256", 0, "3072"}, {"PS512", 4096, "4096"},
	}
	for _, tt := range tests {
		t.Run(tt.alg, func(t *testing.T) {
			s, err := GenerateKey(tt.alg, tt.bits)
			if err != nil {
				t.Fatal(err)
			}
			switch p := s.priv.(type) {
			case *ecdsa.PrivateKey:
				if p.Curve.Params().Name != tt.want {
					t.Fatalf("curve %s, want %s", p.Curve.Params().Name, tt.want)
				}
			case *rsa.PrivateKey:
				if got := p.N.BitLen(); tt.want != strconv.Itoa(got) {
					t.Fatalf("RSA %d bits, want %s", got, tt.want)
				}
			}
			if s.Alg != tt.alg || len(s.Kid) != 43 {
				t.Fatalf("alg %q kid %q", s.Alg, s.Kid)
			}
			tok, err := s.Sign([]byte(`{"sub":"x"}`))
			if err != nil {
				t.Fatal(err)
			}
			parts := strings.Split(tok, ".")
			sig, _ := b64.DecodeString(parts[2])
			pemKey, err := s.PublicPEM()
			if err != nil {
				t.Fatal(err)
			}
			k, err := keys.ParsePEM(pemKey, "public.pem")
			if err != nil {
				t.Fatalf("public PEM does not parse: %v", err)
			}
			if err := k.Verify(tt.alg, parts[0]+"."+parts[1], sig); err != nil {
				t.Fatalf("public PEM does not verify: %v", err)
			}
			set, err := s.PublicJWKS()
			if err != nil {
				t.Fatal(err)
			}
			ks, err := keys.ParseJWKS(set, "jwks.json")
			if err != nil || len(ks) != 1 || ks[0].ID != s.Kid {
				t.Fatalf("JWKS reads back as %v, %v", ks, err)
			}
			if err := ks[0].Verify(tt.alg, parts[0]+"."+parts[1], sig); err != nil {
				t.Fatalf("JWKS key does not verify: %v", err)
			}
			if strings.Contains(string(set), `"d"`) {
				t.Fatal("the JWK Set holds a private member")
			}
		})
	}
}

func TestGenerateKeyRefuses(t *testing.T) {
	for _, tt := range []struct {
		alg    string
		bits   int
		errHas string
	}{
		{"HS256", 0, "cannot generate"}, {"none", 0, "cannot generate"}, {"es256", 0, "case-sensitive"},
		{"RS256", 1024, "out of range"}, {"RS256", 16384, "out of range"}, {"PS256", 3071, "multiple of 8"},
		{"ES256", 3072, "RSA key size"},
	} {
		if _, err := GenerateKey(tt.alg, tt.bits); err == nil || !strings.Contains(err.Error(), tt.errHas) {
			t.Errorf("GenerateKey(%q, %d) = %v, want an error containing %q", tt.alg, tt.bits, err, tt.errHas)
		}
	}
	if _, err := (&Signer{}).PublicPEM(); err == nil {
		t.Error("PublicPEM of an HMAC signer succeeded")
	}
}
