package verify

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse/internal/keys"
	"github.com/gatehouse-dev/gatehouse/internal/testsign"
)

// testNow is the fixed clock of every test: Verify's time checks are compared against it.
var testNow = time.Unix(1_800_000_000, 0)

func testClock() time.Time { return testNow }

// at is testNow shifted by d seconds, as a NumericDate.
func at(d float64) float64 { return float64(testNow.Unix()) + d }

// marker is planted in claims and headers of refused tokens: no refusal may repeat it.
const marker = "MARKER-7f3a"

// material is the private and public key material of the tests, generated once per binary
// (RSA generation is slow, the more so under the race detector).
type material struct {
	secret              []byte // 64 bytes: HS256, HS384 and HS512
	rsa, rsa2           *rsa.PrivateKey
	p256, p384, p521    *ecdsa.PrivateKey
	ed                  ed25519.PrivateKey
	hs, rs, rs2         *keys.Key
	es256, es384, es512 *keys.Key
	eddsa               *keys.Key
}

var (
	materialOnce sync.Once
	testMaterial material
)

func keyMaterial(tb testing.TB) *material {
	tb.Helper()
	materialOnce.Do(func() {
		m := &testMaterial
		m.secret = bytes.Repeat([]byte("0123456789abcdef"), 4)
		m.rsa, m.rsa2 = testsign.RSA(2048), testsign.NewRSA(2048)
		m.p256, m.p384, m.p521 = testsign.EC("P-256"), testsign.EC("P-384"), testsign.EC("P-521")
		m.ed = testsign.Ed25519()
		var err error
		if m.hs, err = keys.FromSecret(m.secret, "secret"); err != nil {
			panic(err)
		}
		m.rs = mustPEMKey(m.rsa.Public())
		m.rs2 = mustPEMKey(m.rsa2.Public())
		m.es256, m.es384, m.es512 = mustPEMKey(m.p256.Public()), mustPEMKey(m.p384.Public()), mustPEMKey(m.p521.Public())
		m.eddsa = mustPEMKey(m.ed.Public())
	})
	return &testMaterial
}

// publicDER is pub as SPKI DER; publicPEM is the same as a PUBLIC KEY block.
func publicDER(pub crypto.PublicKey) []byte { return testsign.PublicDER(pub) }
func publicPEM(pub crypto.PublicKey) []byte { return testsign.PublicPEM(pub) }

func mustPEMKey(pub crypto.PublicKey) *keys.Key {
	k, err := keys.ParsePEM(publicPEM(pub), "public_key")
	if err != nil {
		panic(err)
	}
	return k
}

// withID returns a copy of k with kid id; the original stays without one.
func withID(k *keys.Key, id string) *keys.Key {
	return &keys.Key{ID: id, Algs: k.Algs, Public: k.Public, Origin: k.Origin}
}

// accessClaims is a djangorestframework-simplejwt access token valid at testNow.
func accessClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"token_type": "access",
		"exp":        at(300),
		"iat":        at(0),
		"jti":        "ade5487163b04c179848ad8b20abd158",
		"user_id":    1,
	}
}

// with returns a copy of c with the given members set; a nil value deletes the member.
func with(c jwt.MapClaims, kv ...any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for k, v := range c {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
			continue
		}
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

// signed makes a token as golang-jwt would, signed for m's alg; kid is set when not empty.
func signed(tb testing.TB, m jwt.SigningMethod, key any, kid string, claims jwt.Claims) string {
	tb.Helper()
	var header map[string]any
	if kid != "" {
		header = map[string]any{"kid": kid}
	}
	return testsign.Mint(m.Alg(), key, header, claims)
}

func enc(b []byte) string { return testsign.B64(b) }

// assemble builds a token from a JSON header and payload, signed for m's alg with key; the
// header's alg is whatever the JSON says, so hostile headers can be signed by a real key.
func assemble(tb testing.TB, header, payload string, m jwt.SigningMethod, key any) string {
	tb.Helper()
	return testsign.Token(m.Alg(), key, header, payload)
}

// hs256Payload is a hand-assembled HS256 token over payload, signed with the test secret.
func hs256Payload(tb testing.TB, payload string) string {
	return assemble(tb, `{"alg":"HS256","typ":"JWT"}`, payload, jwt.SigningMethodHS256, keyMaterial(tb).secret)
}

// jsonClaims encodes claims for a hand-assembled payload.
func jsonClaims(tb testing.TB, c jwt.MapClaims) string {
	tb.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// newVerifier builds a Verifier over a static set of ks at testNow.
func newVerifier(tb testing.TB, p Policy, ks ...*keys.Key) *Verifier {
	tb.Helper()
	v, err := New(p, keys.Static{Set: keys.NewSet(ks...)}, testClock)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return v
}

// checkRefusal asserts that err is an *Error with reason and the status that goes with it, and
// that nothing of the token's content leaked into it.
func checkRefusal(t *testing.T, err error, raw string, reason Reason) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want an *Error with reason %s", err, err, reason)
	}
	if e.Reason != reason {
		t.Fatalf("reason = %s (%s), want %s", e.Reason, e.Description, reason)
	}
	wantStatus := http.StatusUnauthorized
	if reason == ReasonScope {
		wantStatus = http.StatusForbidden
	}
	if e.Status != wantStatus {
		t.Errorf("status = %d, want %d", e.Status, wantStatus)
	}
	if e.Description == "" {
		t.Error("empty description")
	}
	if strings.Contains(e.Error(), marker) || (len(raw) > 8 && strings.Contains(e.Error(), raw)) {
		t.Errorf("error %q repeats token content", e.Error())
	}
}

// refreshing is a Provider and Refresher whose refresh adds a key, like a JWKS URL after the
// issuer rotated its keys.
type refreshing struct {
	set   atomic.Pointer[keys.Set]
	add   *keys.Key // appended on refresh; nil: the refresh finds nothing new
	calls atomic.Int32
	kids  []string
	ctx   context.Context
	mu    sync.Mutex
}

func newRefreshing(add *keys.Key, ks ...*keys.Key) *refreshing {
	r := &refreshing{add: add}
	r.set.Store(keys.NewSet(ks...))
	return r
}

func (r *refreshing) Current() *keys.Set { return r.set.Load() }

func (r *refreshing) RefreshFor(ctx context.Context, kid string) bool {
	r.calls.Add(1)
	r.mu.Lock()
	r.kids = append(r.kids, kid)
	r.ctx = ctx
	r.mu.Unlock()
	if r.add == nil {
		return false
	}
	ks := append(append([]*keys.Key(nil), r.Current().Keys()...), r.add)
	r.set.Store(keys.NewSet(ks...))
	return true
}
