package yaegitest

import (
	"crypto/ed25519"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testsign"
)

// The keys of the tests: one of each type Gatehouse verifies, shared by all tests.
var (
	secret = "yaegi-test-secret-" + strings.Repeat("0123456789abcdef", 4) // 82 bytes: HS256/384/512
	rsaKey = testsign.RSA(2048)
	p256   = testsign.EC("P-256")
	p384   = testsign.EC("P-384")
	p521   = testsign.EC("P-521")
	edKey  = testsign.Ed25519()
	// otherRSA is an RSA key the plugin does not know: an attacker's own.
	otherRSA = testsign.NewRSA(2048)
)

const (
	testIssuer   = "https://id.example.com"
	testAudience = "https://api.example.com"
)

// algKeys are the signing key of each algorithm the plugin must accept.
var algKeys = []struct {
	alg string
	key any
}{
	{"HS256", secret}, {"HS384", secret}, {"HS512", secret},
	{"RS256", rsaKey}, {"RS384", rsaKey}, {"RS512", rsaKey},
	{"PS256", rsaKey}, {"PS384", rsaKey}, {"PS512", rsaKey},
	{"ES256", p256}, {"ES384", p384}, {"ES512", p521},
	{"EdDSA", edKey}, {"Ed25519", edKey},
}

// allKeys is a configuration with every key, an issuer, an audience and identity headers.
func allKeys() map[string]any {
	return map[string]any{
		"secret": secret,
		"publicKeys": []any{
			string(testsign.PublicPEM(rsaKey)), string(testsign.PublicPEM(p256)),
			string(testsign.PublicPEM(p384)), string(testsign.PublicPEM(p521)),
			string(testsign.PublicPEM(edKey)),
		},
		"issuer":   testIssuer,
		"audience": testAudience,
		"headers":  map[string]any{"sub": "X-User-Id", "scope": "X-Scope"},
	}
}

// claims are valid claims for allKeys, with extra members set over them (nil deletes one).
func claims(extra map[string]any) map[string]any {
	now := time.Now().Unix()
	c := map[string]any{
		"sub": "alice", "iss": testIssuer, "aud": testAudience, "scope": "api:read api:write",
		"iat": now, "exp": now + 600, "token_type": "access",
	}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}

// mint is a valid token of alg for allKeys, with extra claims.
func mint(alg string, key any, extra map[string]any) string {
	return testsign.Mint(alg, key, nil, claims(extra))
}

// seen is what the next handler got.
type seen struct {
	called bool
	header http.Header
	uri    string
}

// serve sends r through a handler built by m from options and reports the answer and what the
// next handler saw.
func serve(t *testing.T, m mode, options map[string]any, r *http.Request) (*httptest.ResponseRecorder, *seen) {
	t.Helper()
	s := &seen{}
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.called = true
		s.header = r.Header.Clone()
		s.uri = r.URL.RequestURI()
		w.WriteHeader(http.StatusOK)
	})
	h, err := m.new(options, next, "test")
	if err != nil {
		t.Fatalf("%s: New: %v", m.name, err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec, s
}

func bearer(tok string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://app.example.com/api/me", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

// edPublic is the Ed25519 public key.
func edPublic() ed25519.PublicKey { return edKey.Public().(ed25519.PublicKey) }
