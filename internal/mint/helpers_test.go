package mint

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse/internal/keys"
	"github.com/gatehouse-dev/gatehouse/internal/testsign"
	"github.com/gatehouse-dev/gatehouse/internal/token"
	"github.com/gatehouse-dev/gatehouse/internal/verify"
)

// testNow is the start of every fake clock.
var testNow = time.Unix(1_800_000_000, 0)

// clock is a fake clock that tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: testNow} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// memStorage is an in-memory kv.Storage whose locks exclude each other like a shared storage's
// do across processes. loadErr, when set, fails every Load; stores counts Store calls.
type memStorage struct {
	mu      sync.Mutex
	data    map[string][]byte
	locks   map[string]chan struct{}
	loadErr error
	stores  int
}

func newMemStorage() *memStorage {
	return &memStorage{data: map[string][]byte{}, locks: map[string]chan struct{}{}}
}

func (m *memStorage) Store(_ context.Context, key string, value []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.data[key] = bytes.Clone(value)
	m.stores++
	return nil
}

func (m *memStorage) Load(_ context.Context, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.loadErr != nil {
		return nil, m.loadErr
	}
	v, ok := m.data[key]
	if !ok {
		return nil, fmt.Errorf("%s: %w", key, fs.ErrNotExist)
	}
	return bytes.Clone(v), nil
}

func (m *memStorage) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.data, key)
	return nil
}

func (m *memStorage) Exists(_ context.Context, key string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.data[key]
	return ok
}

func (m *memStorage) List(_ context.Context, path string, _ bool) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for k := range m.data {
		if strings.HasPrefix(k, path) {
			out = append(out, k)
		}
	}
	return out, nil
}

func (m *memStorage) Lock(ctx context.Context, name string) error {
	for {
		m.mu.Lock()
		ch, held := m.locks[name]
		if !held {
			m.locks[name] = make(chan struct{})
			m.mu.Unlock()
			return nil
		}
		m.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (m *memStorage) Unlock(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	ch, held := m.locks[name]
	if !held {
		return errors.New("not locked")
	}
	close(ch)
	delete(m.locks, name)
	return nil
}

func (m *memStorage) get(key string) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return bytes.Clone(m.data[key])
}

func (m *memStorage) storeCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stores
}

// testSecret is a 64-byte HMAC secret.
var testSecret = bytes.Repeat([]byte("0123456789abcdef"), 4)

// The private keys of the tests, the test binary's shared ones.
var (
	rsaKey                  = testsign.RSA(2048)
	p256Key, p384Key, p521K = testsign.EC("P-256"), testsign.EC("P-384"), testsign.EC("P-521")
	edKey                   = testsign.Ed25519()
)

// pkcs8 is priv as a PKCS#8 PEM.
func pkcs8(tb testing.TB, priv crypto.PrivateKey) []byte {
	tb.Helper()
	return testsign.PrivatePEM(priv)
}

// signerFor returns a signer for every algorithm the issuer can sign with.
func signerFor(tb testing.TB, alg string) *Signer {
	tb.Helper()
	var (
		s   *Signer
		err error
	)
	switch alg {
	case "HS256":
		s, err = NewHMAC(testSecret)
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		s, err = ParsePEM(pkcs8(tb, rsaKey), alg)
	case "ES256":
		s, err = ParsePEM(pkcs8(tb, p256Key), alg)
	case "ES384":
		s, err = ParsePEM(pkcs8(tb, p384Key), alg)
	case "ES512":
		s, err = ParsePEM(pkcs8(tb, p521K), alg)
	case "EdDSA":
		s, err = ParsePEM(pkcs8(tb, edKey), alg)
	default:
		tb.Fatalf("no test key for %s", alg)
	}
	if err != nil {
		tb.Fatalf("signer for %s: %v", alg, err)
	}
	return s
}

var allAlgs = []string{"HS256", "ES256", "ES384", "ES512", "EdDSA", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}

// verifyOurs checks raw with our verifier over ring, as the issuer's endpoints and jwt_auth do.
func verifyOurs(tb testing.TB, ring *Ring, now func() time.Time, tokenType, raw string) *token.Claims {
	tb.Helper()
	v, err := verify.New(verify.Policy{TokenType: tokenType, CacheSize: -1}, ring, now)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := v.Verify(context.Background(), raw)
	if err != nil {
		tb.Fatalf("verify.Verifier refused the token: %v", err)
	}
	return c
}

// verifyGolangJWT checks raw with golang-jwt, taking the key from the ring's published JWK Set
// by kid (or the secret for HS256), so the JWKS is checked as a relying party uses it.
func verifyGolangJWT(tb testing.TB, ring *Ring, now func() time.Time, raw string) jwt.MapClaims {
	tb.Helper()
	var published []*keys.Key
	if jwks := ring.JWKS(); !bytes.Equal(jwks, []byte(`{"keys":[]}`)) {
		var err error
		if published, err = keys.ParseJWKS(jwks, "test"); err != nil {
			tb.Fatalf("ring's JWKS does not parse: %v", err)
		}
	}
	alg := ring.Signer().Alg
	keyFunc := func(t *jwt.Token) (any, error) {
		if alg == "HS256" {
			return testSecret, nil
		}
		kid, _ := t.Header["kid"].(string)
		for _, k := range published {
			if k.ID == kid {
				return k.Public, nil
			}
		}
		return nil, fmt.Errorf("kid %q is not published", kid)
	}
	p := jwt.NewParser(jwt.WithValidMethods([]string{alg}), jwt.WithTimeFunc(now), jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	claims := jwt.MapClaims{}
	if _, err := p.ParseWithClaims(raw, claims, keyFunc); err != nil {
		tb.Fatalf("golang-jwt refused the token: %v", err)
	}
	return claims
}

// parts decodes a token's header and payload JSON.
func parts(tb testing.TB, raw string) (header, payload string) {
	tb.Helper()
	seg := strings.Split(raw, ".")
	if len(seg) != 3 {
		tb.Fatalf("token has %d segments", len(seg))
	}
	h, err := b64.DecodeString(seg[0])
	if err != nil {
		tb.Fatal(err)
	}
	p, err := b64.DecodeString(seg[1])
	if err != nil {
		tb.Fatal(err)
	}
	return string(h), string(p)
}

// claimNames returns the top-level claim names of a payload in document order.
func claimNames(tb testing.TB, payload string) []string {
	tb.Helper()
	dec := json.NewDecoder(strings.NewReader(payload))
	if _, err := dec.Token(); err != nil {
		tb.Fatal(err)
	}
	var names []string
	for dec.More() {
		name, err := dec.Token()
		if err != nil {
			tb.Fatal(err)
		}
		names = append(names, name.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			tb.Fatal(err)
		}
	}
	return names
}
