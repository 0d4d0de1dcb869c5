package integration

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse/internal/testsign"
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

// sign mints a token for method's alg as golang-jwt would; header entries (such as kid) are
// added to the JOSE header.
func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims, header map[string]any) string {
	t.Helper()
	return testsign.Mint(method.Alg(), key, header, claims)
}

// hs256 mints an HS256 token with testSecret.
func hs256(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	return sign(t, jwt.SigningMethodHS256, []byte(testSecret), claims, nil)
}

// b64 is unpadded base64url, as in a compact JWS.
func b64(s string) string { return testsign.B64([]byte(s)) }

// rawHS256 signs an arbitrary header and payload text with secret, for tokens golang-jwt would
// not produce (duplicate members, odd types).
func rawHS256(secret, header, payload string) string {
	return testsign.Token("HS256", secret, header, payload)
}

// hmacSum is the HMAC-SHA256 of input.
func hmacSum(secret, input string) []byte { return testsign.Sign("HS256", secret, input) }

// rawES256 signs an arbitrary header and payload text with ecKey. The signature is the JWS
// form, r||s (RFC 7518 §3.4), or with der set the ASN.1 DER form a JWS must not use.
func rawES256(t *testing.T, header, payload string, der bool) string {
	t.Helper()
	input := testsign.Input(header, payload)
	sig := testsign.Sign("ES256", ecKey, input)
	if der {
		sig = testsign.DER(sig)
	}
	return input + "." + testsign.B64(sig)
}

// Test keys: the test binary's shared ones, and new ones that nothing trusts.
var (
	rsaKey = testsign.RSA(2048)
	ecKey  = testsign.EC("P-256")
	edK    = testsign.Ed25519()
	edPub  = edK.Public().(ed25519.PublicKey)
)

func mustRSA(bits int) *rsa.PrivateKey { return testsign.NewRSA(bits) }
func mustEC() *ecdsa.PrivateKey        { return testsign.NewEC("P-256") }

// publicPEM returns the SPKI PEM of pub.
func publicPEM(t *testing.T, pub crypto.PublicKey) string {
	t.Helper()
	return string(testsign.PublicPEM(pub))
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
	return testsign.JWK(pub, map[string]any{"kid": kid, "use": "sig"})
}

// jwks is the JSON of a JWK Set holding keys.
func jwks(t *testing.T, keys ...map[string]any) string {
	t.Helper()
	set := make([]any, len(keys))
	for i, k := range keys {
		set[i] = k
	}
	return testsign.JWKS(set...)
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
