package caddyauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// testSecret is a 32-byte HMAC secret (HS256 only).
const testSecret = "0123456789abcdef0123456789abcdef"

var b64 = base64.RawURLEncoding

// signHS256 returns a compact JWS of header and payload, both raw JSON, signed with secret.
func signHS256(secret, header, payload string) string {
	in := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(payload))
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(in))
	return in + "." + b64.EncodeToString(mac.Sum(nil))
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
	in := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(payload))
	sum := sha256.Sum256([]byte(in))
	r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return in + "." + b64.EncodeToString(sig)
}

// ecJWKS is a JWK Set holding the public half of key under kid.
func ecJWKS(key *ecdsa.PrivateKey, kid string) []byte {
	pad := func(n *big.Int) string { b := make([]byte, 32); n.FillBytes(b); return b64.EncodeToString(b) }
	set := map[string]any{"keys": []map[string]string{{
		"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig",
		"x": pad(key.X), "y": pad(key.Y),
	}}}
	out, _ := json.Marshal(set)
	return out
}

// pemPublic encodes pub as an SPKI PEM block.
func pemPublic(t *testing.T, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

var (
	rsaOnce          sync.Once
	rsa2048, rsa1024 *rsa.PrivateKey
	ecOnce           sync.Once
	ecKey            *ecdsa.PrivateKey
)

// testRSA returns a 2048-bit and a (too weak) 1024-bit key, made once per test binary.
func testRSA(t *testing.T) (*rsa.PrivateKey, *rsa.PrivateKey) {
	t.Helper()
	rsaOnce.Do(func() {
		var err error
		if rsa2048, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if rsa1024, err = rsa.GenerateKey(rand.Reader, 1024); err != nil {
			panic(err)
		}
	})
	return rsa2048, rsa1024
}

func testEC(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	ecOnce.Do(func() {
		var err error
		if ecKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
	})
	return ecKey
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
	der, err := x509.MarshalPKCS8PrivateKey(testEC(t))
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}
