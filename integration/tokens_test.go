package integration

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// testSecret is the HMAC secret of most tests (48 bytes).
const testSecret = "integration-test-secret-0123456789abcdefghijklmn"

// Exact response bodies of the jwt_auth contract (simplejwt's shapes).
const (
	bodyMissing    = `{"detail":"Authentication credentials were not provided."}`
	bodyInvalid    = `{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token is invalid or expired"}]}`
	bodyWrongType  = `{"detail":"Given token not valid for any token type","code":"token_not_valid","messages":[{"token_class":"AccessToken","token_type":"access","message":"Token has wrong type"}]}`
	bodyMultiple   = `{"detail":"Send the token in one place only.","code":"invalid_request"}`
	bodyPermission = `{"detail":"You do not have permission to perform this action.","code":"permission_denied"}`
)

// access returns simplejwt-like access token claims valid for five minutes, with extra merged in.
func access(extra jwt.MapClaims) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{
		"token_type": "access",
		"iat":        now.Unix(),
		"exp":        now.Add(5 * time.Minute).Unix(),
		"jti":        "0123456789abcdef0123456789abcdef",
	}
	for k, v := range extra {
		c[k] = v
	}
	return c
}

// sign mints a token with golang-jwt; header entries (such as kid) are added to the JOSE header.
func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("signing %s token: %v", method.Alg(), err)
	}
	return s
}

// hs256 mints an HS256 token with testSecret.
func hs256(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	return sign(t, jwt.SigningMethodHS256, []byte(testSecret), claims, nil)
}

// b64 is unpadded base64url, as in a compact JWS.
func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// rawHS256 signs an arbitrary header and payload text with secret, for tokens golang-jwt would
// not produce (duplicate members, odd types).
func rawHS256(secret, header, payload string) string {
	input := b64(header) + "." + b64(payload)
	return input + "." + base64.RawURLEncoding.EncodeToString(hmacSum(secret, input))
}

// hmacSum is the HMAC-SHA256 of input.
func hmacSum(secret, input string) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(input))
	return mac.Sum(nil)
}

// rawES256 signs an arbitrary header and payload text with ecKey. The signature is the JWS
// form, r||s (RFC 7518 §3.4), or with der set the ASN.1 DER form a JWS must not use.
func rawES256(t *testing.T, header, payload string, der bool) string {
	t.Helper()
	input := b64(header) + "." + b64(payload)
	sig, err := jwt.SigningMethodES256.Sign(input, ecKey)
	if err != nil {
		t.Fatal(err)
	}
	if der {
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		if sig, err = asn1.Marshal(struct{ R, S *big.Int }{r, s}); err != nil {
			t.Fatal(err)
		}
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// Test keys, generated once per test binary.
var (
	rsaKey     = mustRSA(2048)
	ecKey      = mustEC()
	edPub, edK = mustEd25519()
)

func mustRSA(bits int) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		panic(err)
	}
	return k
}

func mustEC() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

func mustEd25519() (ed25519.PublicKey, ed25519.PrivateKey) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return pub, priv
}

// publicPEM returns the SPKI PEM of pub.
func publicPEM(t *testing.T, pub crypto.PublicKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// writePEM writes pub's SPKI PEM into dir and returns the file's path.
func writePEM(t *testing.T, dir, name string, pub crypto.PublicKey) string {
	t.Helper()
	path := filepath.Join(dir, name)
	writeFile(t, path, publicPEM(t, pub))
	return path
}

// jwkOf is the public JWK of pub with kid.
func jwkOf(t *testing.T, kid string, pub crypto.PublicKey) map[string]any {
	t.Helper()
	enc := base64.RawURLEncoding.EncodeToString
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		return map[string]any{"kty": "RSA", "kid": kid, "use": "sig", "n": enc(pub.N.Bytes()),
			"e": enc(big.NewInt(int64(pub.E)).Bytes())}
	case *ecdsa.PublicKey:
		ecdh, err := pub.ECDH()
		if err != nil {
			t.Fatal(err)
		}
		raw := ecdh.Bytes() // 0x04 || X || Y, each coordinate 32 bytes for P-256
		return map[string]any{"kty": "EC", "kid": kid, "use": "sig", "crv": "P-256",
			"x": enc(raw[1:33]), "y": enc(raw[33:])}
	case ed25519.PublicKey:
		return map[string]any{"kty": "OKP", "kid": kid, "use": "sig", "crv": "Ed25519", "x": enc(pub)}
	}
	t.Fatalf("no JWK for %T", pub)
	return nil
}

// jwks is the JSON of a JWK Set holding keys.
func jwks(t *testing.T, keys ...map[string]any) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// tamper changes one character in the middle of tok's signature.
func tamper(tok string) string {
	i := strings.LastIndexByte(tok, '.') + 5
	c := byte('A')
	if tok[i] == 'A' {
		c = 'B'
	}
	return tok[:i] + string(c) + tok[i+1:]
}

// requireContains fails unless s contains every one of subs.
func requireContains(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s = %q, want it to contain %q", what, s, sub)
		}
	}
}
