package caddyauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/gatehouse-dev/gatehouse/internal/testsign"
)

// testSecret is a 32-byte HMAC secret (HS256 only).
const testSecret = "0123456789abcdef0123456789abcdef"

var b64 = base64.RawURLEncoding

// signHS256 returns a compact JWS of header and payload, both raw JSON, signed with secret.
func signHS256(secret, header, payload string) string {
	return testsign.Token("HS256", secret, header, payload)
}

// hsToken is an HS256 token of testSecret whose claims are exp one hour ahead followed by extra
// (raw JSON members, e.g. `"sub":"alice"`).
func hsToken(extra string) string {
	return signHS256(testSecret, `{"alg":"HS256","typ":"JWT"}`, claims(extra))
}

// claims is a claim set valid for an hour, plus extra members.
func claims(extra string) string {
	s := `{"exp":` + strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)
	if extra != "" {
		s += "," + extra
	}
	return s + "}"
}

// signES256 returns a compact JWS signed with an ECDSA P-256 key (r||s signature).
func signES256(t *testing.T, key *ecdsa.PrivateKey, header, payload string) string {
	t.Helper()
	return testsign.Token("ES256", key, header, payload)
}

// ecJWKS is a JWK Set holding the public half of key under kid.
func ecJWKS(key *ecdsa.PrivateKey, kid string) []byte {
	return []byte(testsign.JWKS(testsign.JWK(key, map[string]any{"kid": kid, "use": "sig"})))
}

// pemPublic encodes pub as an SPKI PEM block.
func pemPublic(t *testing.T, pub any) []byte {
	t.Helper()
	return testsign.PublicPEM(pub)
}

// testRSA returns a 2048-bit and a (too weak) 1024-bit key, made once per test binary.
func testRSA(t *testing.T) (*rsa.PrivateKey, *rsa.PrivateKey) {
	t.Helper()
	return testsign.RSA(2048), testsign.RSA(1024)
}

// testEC is the test binary's P-256 key.
func testEC(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	return testsign.EC("P-256")
}

// writeFile writes data to name in dir and returns its path.
func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// provision provisions and validates j as Caddy would, and cleans it up after the test.
func provision(t *testing.T, j *JWTAuth) *JWTAuth {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := provisionIn(ctx, j); err != nil {
		t.Fatalf("provision: %v", err)
	}
	t.Cleanup(func() { _ = j.Cleanup() })
	return j
}

func provisionIn(ctx caddy.Context, j *JWTAuth) error {
	if err := j.Provision(ctx); err != nil {
		_ = j.Cleanup() // as Caddy does after a failed Provision
		return err
	}
	return j.Validate()
}

// served is what one ServeHTTP call did.
type served struct {
	rec        *httptest.ResponseRecorder
	err        error
	nextCalled bool
	nextHeader http.Header // the request headers next saw
	repl       *caddy.Replacer
}

// placeholder is the value of {name} after the request.
func (s served) placeholder(name string) string {
	return s.repl.ReplaceAll("{"+name+"}", "")
}

// serve runs r through j as Caddy's server would (replacer and server in the context); srv may
// be nil for a server without handle_errors.
func serve(j *JWTAuth, r *http.Request, srv *caddyhttp.Server) served {
	if srv == nil {
		srv = new(caddyhttp.Server)
	}
	s := served{rec: httptest.NewRecorder(), repl: caddy.NewReplacer()}
	r = caddyhttp.PrepareRequest(r, s.repl, s.rec, srv)
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		s.nextCalled = true
		s.nextHeader = r.Header.Clone()
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
	s.err = j.ServeHTTP(s.rec, r, next)
	return s
}

// bearer is a GET request carrying tok as a Bearer token.
func bearer(tok string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/api/x", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

// privatePEM is an EC private key as a PKCS #8 PEM file.
func privatePEM(t *testing.T) []byte {
	t.Helper()
	return testsign.PrivatePEM(testEC(t))
}
