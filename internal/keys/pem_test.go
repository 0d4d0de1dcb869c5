package keys

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParsePEM(t *testing.T) {
	rsaPub := &testRSA(t, 2048).PublicKey
	p256 := testEC(t, "P-256")
	ed := testEd(t)
	x25519, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}

	// A self-signed certificate for the P-256 key.
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "issuer"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	certDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &p256.PublicKey, p256)
	if err != nil {
		t.Fatal(err)
	}

	// An RSA modulus of 8200 bits: too big to be worth generating, fine as a public key.
	hugeN := new(big.Int).SetBytes(randomBytes(1025))
	hugeN.SetBit(hugeN, 8199, 1).SetBit(hugeN, 0, 1)
	hugeN = new(big.Int).Rsh(hugeN, uint(hugeN.BitLen()-8200))
	hugeN.SetBit(hugeN, 0, 1)

	pkcs8 := func(priv any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			t.Fatal(err)
		}
		return pemOf("PRIVATE KEY", der)
	}
	ecDER, err := x509.MarshalECPrivateKey(p256)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		data    []byte
		algs    []string
		public  any
		wantErr string
	}{
		{"RSA 2048 SPKI", spkiPEM(t, rsaPub), rsaAlgs, rsaPub, ""},
		{"RSA 2048 PKCS1", pemOf("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(rsaPub)), rsaAlgs, rsaPub, ""},
		{"RSA 1024 refused", spkiPEM(t, &testRSA(t, 1024).PublicKey), nil, nil, "RSA key is 1024 bits; at least 2048 are required"},
		{"RSA 1024 PKCS1 refused", pemOf("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&testRSA(t, 1024).PublicKey)), nil, nil, "RSA key is 1024 bits"},
		{"RSA 8200 refused", spkiPEM(t, &rsa.PublicKey{N: hugeN, E: 65537}), nil, nil, "RSA key is 8200 bits; at most 8192"},
		{"RSA even exponent refused", spkiPEM(t, &rsa.PublicKey{N: rsaPub.N, E: 65536}), nil, nil, "RSA public exponent 65536 is invalid"},
		{"P-256", spkiPEM(t, &p256.PublicKey), []string{"ES256"}, &p256.PublicKey, ""},
		{"P-384", spkiPEM(t, &testEC(t, "P-384").PublicKey), []string{"ES384"}, &testEC(t, "P-384").PublicKey, ""},
		{"P-521", spkiPEM(t, &testEC(t, "P-521").PublicKey), []string{"ES512"}, &testEC(t, "P-521").PublicKey, ""},
		{"P-224 refused", spkiPEM(t, &testEC(t, "P-224").PublicKey), nil, nil, "ECDSA curve P-224 is not supported; use P-256, P-384 or P-521"},
		{"Ed25519", spkiPEM(t, ed.Public()), []string{"EdDSA"}, ed.Public(), ""},
		{"Ed25519 small order refused", spkiPEM(t, edSmallOrder), nil, nil, "point of small order"},
		{"Ed25519 off the curve refused", spkiPEM(t, edOffCurve), nil, nil, "not a point on the curve"},
		{"X25519 refused", spkiPEM(t, x25519.PublicKey()), nil, nil, "unsupported public key type"},
		{"certificate", pemOf("CERTIFICATE", certDER), []string{"ES256"}, &p256.PublicKey, ""},
		{"text before the block", append([]byte("subject=CN = issuer\n"), spkiPEM(t, ed.Public())...), []string{"EdDSA"}, ed.Public(), ""},
		{"PKCS8 RSA private key", pkcs8(testRSA(t, 2048)), nil, nil, "file holds a private key (PRIVATE KEY); supply the public key instead, e.g. openssl pkey -in key.pem -pubout"},
		{"PKCS1 RSA private key", pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(testRSA(t, 2048))), nil, nil, "private key (RSA PRIVATE KEY)"},
		{"EC private key after parameters", append(pemOf("EC PARAMETERS", []byte{6, 8, 42, 134, 72, 206, 61, 3, 1, 7}), pemOf("EC PRIVATE KEY", ecDER)...), nil, nil, "private key (EC PRIVATE KEY)"},
		{"public then private key", append(spkiPEM(t, rsaPub), pkcs8(ed)...), nil, nil, "private key (PRIVATE KEY)"},
		{"Ed25519 private key", pkcs8(ed), nil, nil, "pubout"},
		{"garbage", []byte("this is not a key"), nil, nil, "not a PEM file"},
		{"empty", nil, nil, nil, "not a PEM file"},
		{"HMAC secret", []byte("q3Jm0yJdC9y1lJ3yR5b4X8H0x0jA8m1wq3Jm0yJdC9y1lJ3y\n"), nil, nil, "not a PEM file: expected a -----BEGIN PUBLIC KEY----- block (an HMAC secret goes in secret"},
		{"JWK Set", setJSON(edJWK(ed.Public().(ed25519.PublicKey), nil)), nil, nil, "a JWK Set in jwks_file"},
		{"two keys", append(spkiPEM(t, rsaPub), spkiPEM(t, ed.Public())...), nil, nil, "file holds 2 PEM blocks; supply exactly one"},
		{"certificate chain", append(pemOf("CERTIFICATE", certDER), pemOf("CERTIFICATE", certDER)...), nil, nil, "2 PEM blocks"},
		{"trailing garbage", append(spkiPEM(t, rsaPub), "trailing"...), nil, nil, "unexpected data after the PEM block"},
		{"trailing whitespace ok", append(spkiPEM(t, ed.Public()), "\n\n  \n"...), []string{"EdDSA"}, ed.Public(), ""},
		{"unknown block type", pemOf("DH PARAMETERS", []byte{1, 2, 3}), nil, nil, `unsupported PEM block "DH PARAMETERS"`},
		{"corrupt SPKI", pemOf("PUBLIC KEY", []byte{0x30, 0x03, 1, 2, 3}), nil, nil, "cannot parse PUBLIC KEY block"},
		{"corrupt PKCS1", pemOf("RSA PUBLIC KEY", []byte{0x30, 0x00}), nil, nil, "cannot parse RSA PUBLIC KEY block"},
		{"corrupt certificate", pemOf("CERTIFICATE", []byte{0x30, 0x00}), nil, nil, "cannot parse CERTIFICATE block"},
		{"block headers", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: []byte{1}}), nil, nil, "has headers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParsePEM(tt.data, "public_key k.pem")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				if !strings.HasPrefix(err.Error(), "public_key k.pem: ") {
					t.Errorf("error does not name the origin: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(k.Algs, tt.algs) {
				t.Errorf("Algs = %v, want %v", k.Algs, tt.algs)
			}
			if eq, ok := k.Public.(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(tt.public) {
				t.Errorf("Public = %v (%s), want %v", k.Public, reflect.TypeOf(k.Public), tt.public)
			}
			if k.ID != "" || k.Origin != "public_key k.pem" {
				t.Errorf("ID = %q, Origin = %q", k.ID, k.Origin)
			}
		})
	}
}

// The key parsed from a PEM file verifies signatures of its private key.
func TestParsePEMVerifies(t *testing.T) {
	priv := testEC(t, "P-384")
	k, err := ParsePEM(spkiPEM(t, &priv.PublicKey), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Verify("ES384", testSigningInput, sign(t, "ES384", priv, testSigningInput)); err != nil {
		t.Fatal(err)
	}
}
