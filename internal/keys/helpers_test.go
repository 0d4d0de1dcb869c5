package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testsign"
)

// The short names of this package's tests for the shared keys and signing of internal/testsign.

func testRSA(t testing.TB, bits int) *rsa.PrivateKey    { t.Helper(); return testsign.RSA(bits) }
func testEC(t testing.TB, crv string) *ecdsa.PrivateKey { t.Helper(); return testsign.EC(crv) }
func testEd(t testing.TB) ed25519.PrivateKey            { t.Helper(); return testsign.Ed25519() }
func randomBytes(n int) []byte                          { return testsign.Random(n) }
func pemOf(typ string, der []byte) []byte               { return testsign.PEM(typ, der) }
func spkiPEM(t testing.TB, pub any) []byte              { t.Helper(); return testsign.PublicPEM(pub) }
func b64(b []byte) string                               { return testsign.B64(b) }
func algHash(alg string) crypto.Hash                    { return testsign.Hash(alg) }
func digestOf(h crypto.Hash, s string) []byte           { return testsign.Digest(h, s) }

// sign makes a JWS signature of input for alg with priv ([]byte secret or a crypto private key).
func sign(t testing.TB, alg string, priv any, input string) []byte {
	t.Helper()
	return testsign.Sign(alg, priv, input)
}

// jwkJSON is the JSON of a JWK's members.
func jwkJSON(members map[string]any) string { return testsign.JSON(members) }

// setJSON is a JWK Set of JWK texts, kept as written.
func setJSON(jwks ...string) []byte {
	set := make([]any, len(jwks))
	for i, j := range jwks {
		set[i] = j
	}
	return []byte(testsign.JWKS(set...))
}

// rsaJWK, edJWK, octJWK and ecJWK are the JSON of a key's JWK; extra members override.
func rsaJWK(pub *rsa.PublicKey, extra map[string]any) string {
	return jwkJSON(testsign.JWK(pub, extra))
}
func edJWK(pub ed25519.PublicKey, extra map[string]any) string {
	return jwkJSON(testsign.JWK(pub, extra))
}
func octJWK(secret []byte, extra map[string]any) string { return jwkJSON(testsign.JWK(secret, extra)) }

// ecJWK names the curve crv, whatever pub's curve is, so a point can be published under another.
func ecJWK(pub *ecdsa.PublicKey, crv string, extra map[string]any) string {
	m := testsign.JWK(pub, extra)
	if _, ok := extra["crv"]; !ok {
		m["crv"] = crv
	}
	return jwkJSON(m)
}

// testSigningInput is a realistic "<header>.<payload>".
const testSigningInput = "eyJhbGciOiJIUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0." +
	"eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyLCJleHAiOjQxMDI0NDQ4MDB9"
