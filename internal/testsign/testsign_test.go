package testsign

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// TestMintVerifiesWithGolangJWT checks every algorithm's tokens against an independent
// verifier, so a test that trusts testsign trusts a correct signature.
func TestMintVerifiesWithGolangJWT(t *testing.T) {
	secret := Random(64)
	tests := []struct {
		alg       string
		sign, pub any
	}{
		{"HS256", secret, secret}, {"HS384", secret, secret}, {"HS512", string(secret), secret},
		{"RS256", RSA(2048), &RSA(2048).PublicKey}, {"RS384", RSA(2048), &RSA(2048).PublicKey}, {"RS512", RSA(2048), &RSA(2048).PublicKey},
		{"PS256", RSA(2048), &RSA(2048).PublicKey}, {"PS384", RSA(2048), &RSA(2048).PublicKey}, {"PS512", RSA(2048), &RSA(2048).PublicKey},
		{"ES256", EC("P-256"), &EC("P-256").PublicKey}, {"ES384", EC("P-384"), &EC("P-384").PublicKey}, {"ES512", EC("P-521"), &EC("P-521").PublicKey},
		{"EdDSA", Ed25519(), Ed25519().Public()},
	}
	for _, tc := range tests {
		raw := Mint(tc.alg, tc.sign, map[string]any{"kid": "k1"}, map[string]any{"sub": "alice"})
		tok, err := jwt.NewParser(jwt.WithValidMethods([]string{tc.alg})).Parse(raw, func(*jwt.Token) (any, error) { return tc.pub, nil })
		if err != nil {
			t.Errorf("%s: golang-jwt refused %s: %v", tc.alg, raw, err)
			continue
		}
		if tok.Header["kid"] != "k1" || tok.Claims.(jwt.MapClaims)["sub"] != "alice" {
			t.Errorf("%s: header %v, claims %v", tc.alg, tok.Header, tok.Claims)
		}
	}
}

// TestTokenKeepsRawJSON checks that a hostile header and payload are signed byte for byte.
func TestTokenKeepsRawJSON(t *testing.T) {
	header, payload := `{"alg":"HS256","alg":"none"}`, `{"sub":"a","sub":"b"} `
	raw := Token("HS256", "k", header, payload)
	if want := B64([]byte(header)) + "." + B64([]byte(payload)) + "."; !strings.HasPrefix(raw, want) {
		t.Fatalf("token %s does not start with %s", raw, want)
	}
	if none := Token("none", nil, `{"alg":"none"}`, `{}`); !strings.HasSuffix(none, ".") {
		t.Errorf("none token %s has a signature", none)
	}
}

func TestDER(t *testing.T) {
	k := EC("P-256")
	input := Input(`{"alg":"ES256"}`, `{}`)
	der := DER(Sign("ES256", k, input))
	if !ecdsa.VerifyASN1(&k.PublicKey, Digest(Hash("ES256"), input), der) {
		t.Fatal("DER signature does not verify")
	}
}

func TestPublish(t *testing.T) {
	for _, key := range []any{RSA(2048), EC("P-384"), Ed25519()} {
		block, _ := pem.Decode(PublicPEM(key))
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil || !pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(public(key)) {
			t.Errorf("%T: PEM gives %v, %v", key, pub, err)
		}
		block, _ = pem.Decode(PrivatePEM(key))
		if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
			t.Errorf("%T: PKCS #8: %v", key, err)
		}
	}
	got := JWKS(JWK(Ed25519().Public().(ed25519.PublicKey), map[string]any{"kid": "e", "use": nil}), `{"kty":"oct","kty":"RSA"}`)
	want := `{"keys":[{"crv":"Ed25519","kid":"e","kty":"OKP","use":null,"x":"` + B64(Ed25519().Public().(ed25519.PublicKey)) + `"},{"kty":"oct","kty":"RSA"}]}`
	if got != want {
		t.Errorf("JWKS = %s, want %s", got, want)
	}
	if ec := JWK(EC("P-521"), nil); ec["crv"] != "P-521" || len(ec["x"].(string)) != 88 {
		t.Errorf("P-521 JWK = %v", ec)
	}
}

// TestOnlyTestsImport keeps the package out of the plugin: no non-test file of the module may
// import it.
func TestOnlyTestsImport(t *testing.T) {
	const self = `"github.com/gatehouse-dev/gatehouse/internal/testsign"`
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != "../.." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			if imp.Path.Value == self {
				t.Errorf("%s imports testsign, which is for tests only", path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
