package mint

import (
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testsign"
)

func TestParsePEM(t *testing.T) {
	ecSEC1, err := x509.MarshalECPrivateKey(p384Key)
	if err != nil {
		t.Fatal(err)
	}
	ecParams := pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{6, 5, 43, 129, 4, 0, 34}})
	sec1 := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecSEC1})
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)})

	tests := []struct {
		name    string
		pem     []byte
		alg     string
		wantAlg string
	}{
		{"PKCS#8 RSA default", pkcs8(t, rsaKey), "", "RS256"},
		{"PKCS#8 RSA PS512", pkcs8(t, rsaKey), "PS512", "PS512"},
		{"PKCS#1 RSA", pkcs1, "", "RS256"},
		{"PKCS#8 P-256", pkcs8(t, p256Key), "", "ES256"},
		{"PKCS#8 P-521", pkcs8(t, p521K), "ES512", "ES512"},
		{"SEC 1 P-384 after EC PARAMETERS", append(ecParams, sec1...), "", "ES384"},
		{"PKCS#8 Ed25519", pkcs8(t, edKey), "", "EdDSA"},
		{"text before the block", append([]byte("Private-Key: (256 bit)\n"), pkcs8(t, p256Key)...), "ES256", "ES256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParsePEM(tt.pem, tt.alg)
			if err != nil {
				t.Fatal(err)
			}
			if s.Alg != tt.wantAlg {
				t.Fatalf("Alg = %q, want %q", s.Alg, tt.wantAlg)
			}
		})
	}
}

// Bad key files are refused with a message that says what to fix and contains no key material.
func TestParsePEMErrors(t *testing.T) {
	weak, p224 := testsign.RSA(1024), testsign.EC("P-224")
	x25519, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	spki := testsign.PublicDER(p256Key)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "t"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<31, 0)}
	cert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, p256Key.Public(), p256Key)
	if err != nil {
		t.Fatal(err)
	}
	good := pkcs8(t, p256Key)
	body := good[len("-----BEGIN PRIVATE KEY-----\n") : len(good)-len("-----END PRIVATE KEY-----\n")]
	der, _ := x509.MarshalPKCS8PrivateKey(p256Key)
	legacyEncrypted := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY",
		Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00112233445566778899AABBCCDDEEFF"},
		Bytes:   der})

	tests := []struct {
		name    string
		pem     []byte
		alg     string
		wantErr string
	}{
		{"empty", nil, "", "not a PEM private key"},
		{"HMAC secret", []byte(strings.Repeat("secret", 8)), "", "signing_key secret"},
		{"encrypted PKCS#8", pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: der}), "", "encrypted"},
		{"legacy encrypted PEM", legacyEncrypted, "", "encrypted"},
		{"public key", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki}), "", "not a private key"},
		{"certificate", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert}), "", "not a private key"},
		{"RSA 1024", pkcs8(t, weak), "", "1024 bits; at least 2048"},
		{"P-224", pkcs8(t, p224), "", "P-224 is not supported"},
		{"X25519", pkcs8(t, x25519), "", "key-agreement"},
		{"ES384 for P-256", good, "ES384", `"ES384" does not fit this ECDSA P-256 key, which signs with: ES256`},
		{"RS256 for EC", good, "RS256", "does not fit"},
		{"HS256 for RSA", pkcs8(t, rsaKey), "HS256", "use signing_key secret"},
		{"EdDSA for RSA", pkcs8(t, rsaKey), "EdDSA", "which signs with: RS256, RS384"},
		{"lowercase alg", good, "es256", "case-sensitive"},
		{"none", good, "none", `"none" is never used`},
		{"two keys", append(pkcs8(t, p256Key), pkcs8(t, edKey)...), "", "more than one private key"},
		{"trailing data", append(pkcs8(t, p256Key), "garbage"...), "", "unexpected data after"},
		{"unknown block", pem.EncodeToMemory(&pem.Block{Type: "OPENSSH PRIVATE KEY", Bytes: der}), "", "unsupported PEM block"},
		{"corrupt key bytes", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der[:40]}), "", "cannot parse PRIVATE KEY block"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParsePEM(tt.pem, tt.alg)
			if err == nil {
				t.Fatalf("accepted, alg %s", s.Alg)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			for _, line := range strings.Split(string(body), "\n") {
				if len(line) > 8 && strings.Contains(err.Error(), line[:8]) {
					t.Fatal("error contains key material")
				}
			}
		})
	}
}
