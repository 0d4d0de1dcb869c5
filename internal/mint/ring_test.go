package mint

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/gatehouse-dev/gatehouse/internal/keys"
)

const testRingKey = "gatehouse/issuer/ES256/keyring.json"

func ringConfig(st *memStorage, c *clock) RingConfig {
	return RingConfig{Storage: st, Key: testRingKey, Alg: "ES256", Now: c.Now}
}

func mustLoadRing(t *testing.T, cfg RingConfig) *Ring {
	t.Helper()
	r, err := LoadRing(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Each algorithm a ring generates signs tokens that our verifier (with the ring as its
// keys.Provider) and golang-jwt (with the ring's JWK Set) accept.
func TestLoadRingAlgorithms(t *testing.T) {
	for _, alg := range []string{"ES256", "EdDSA", "RS256"} {
		t.Run(alg, func(t *testing.T) {
			c := newClock()
			cfg := RingConfig{Storage: newMemStorage(), Key: "k/" + alg, Alg: alg, Now: c.Now}
			r := mustLoadRing(t, cfg)
			s := r.Signer()
			if s.Alg != alg || r.Current().Len() != 1 || !r.Current().HasID(s.Kid) {
				t.Fatalf("alg %s, %d keys", s.Alg, r.Current().Len())
			}
			raw, err := s.Sign([]byte(`{"exp":` + itoa(c.Now().Unix()+60) + `,"iat":` + itoa(c.Now().Unix()) + `}`))
			if err != nil {
				t.Fatal(err)
			}
			verifyOurs(t, r, c.Now, "", raw)
			verifyGolangJWT(t, r, c.Now, raw)
		})
	}
}

// A second LoadRing over the same storage (another Caddy, or a restart) gets the same key, and
// instances starting at once agree on one key thanks to the storage lock.
func TestLoadRingInstancesAgree(t *testing.T) {
	st := newMemStorage()
	c := newClock()
	first := mustLoadRing(t, ringConfig(st, c))
	second := mustLoadRing(t, ringConfig(st, c))
	if first.Signer().Kid != second.Signer().Kid {
		t.Fatal("a second LoadRing made a new key")
	}
	if st.storeCount() != 1 {
		t.Fatalf("ring stored %d times, want 1", st.storeCount())
	}

	st = newMemStorage()
	const n = 8
	kids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := LoadRing(context.Background(), ringConfig(st, c))
			if err != nil {
				t.Error(err)
				return
			}
			kids[i] = r.Signer().Kid
		}()
	}
	wg.Wait()
	for _, k := range kids {
		if k != kids[0] {
			t.Fatalf("concurrent LoadRing made different keys: %v", kids)
		}
	}
	if st.storeCount() != 1 {
		t.Fatalf("ring stored %d times, want 1", st.storeCount())
	}
}

// A stored ring that cannot be read is an error, and it is left as it was, never replaced.
func TestLoadRingCorrupted(t *testing.T) {
	c := newClock()
	good := newMemStorage()
	mustLoadRing(t, ringConfig(good, c))
	stored := good.get(testRingKey)
	edit := func(f func(*storedRing)) []byte {
		var sr storedRing
		if err := json.Unmarshal(stored, &sr); err != nil {
			t.Fatal(err)
		}
		f(&sr)
		b, _ := json.Marshal(sr)
		return b
	}
	other, _ := Generate("ES256")
	otherPEM, _ := other.MarshalPEM()
	tests := []struct {
		name    string
		data    []byte
		wantErr string
	}{
		{"not JSON", []byte("{not json"), "not a key ring JSON object"},
		{"empty", []byte{}, "not a key ring JSON object"},
		{"truncated", stored[:len(stored)/2], "not a key ring JSON object"},
		{"future version", edit(func(sr *storedRing) { sr.Version = 2 }), "version 2 is not supported"},
		{"other algorithm", edit(func(sr *storedRing) { sr.Alg = "RS256" }), `holds "RS256" keys but ES256 is configured`},
		{"no keys", edit(func(sr *storedRing) { sr.Keys = nil }), "no keys"},
		{"kid mismatch", edit(func(sr *storedRing) { sr.Keys[0].Kid = other.Kid }), "not the thumbprint"},
		{"key swapped", edit(func(sr *storedRing) { sr.Keys[0].PrivateKey = string(otherPEM) }), "not the thumbprint"},
		{"bad PEM", edit(func(sr *storedRing) {
			sr.Keys[0].PrivateKey = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
		}), "cannot parse"},
		{"no created time", edit(func(sr *storedRing) { sr.Keys[0].Created = time.Time{} }), "no created time"},
		{"newest retired", edit(func(sr *storedRing) { sr.Keys[0].Retired = testNow }), "newest key is marked retired"},
		{"duplicate key", edit(func(sr *storedRing) {
			k := sr.Keys[0]
			k.Created = k.Created.Add(time.Hour)
			sr.Keys[0].Retired = k.Created
			sr.Keys = append(sr.Keys, k)
		}), "appears twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newMemStorage()
			st.Store(context.Background(), testRingKey, tt.data)
			_, err := LoadRing(context.Background(), ringConfig(st, c))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "unreadable") {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if !bytes.Equal(st.get(testRingKey), tt.data) || st.storeCount() != 1 {
				t.Fatal("the unreadable ring was replaced")
			}
			if strings.Contains(err.Error(), "-----BEGIN") {
				t.Fatal("error contains key material")
			}
		})
	}
}

// A ring that becomes unreadable in storage is reported by Maintain, and the keys in memory keep
// working.
func TestMaintainCorrupted(t *testing.T) {
	st := newMemStorage()
	c := newClock()
	r := mustLoadRing(t, ringConfig(st, c))
	kid, set := r.Signer().Kid, r.Current()
	st.Store(context.Background(), testRingKey, []byte(`{"version":1}`))
	if err := r.Maintain(context.Background()); err == nil || !strings.Contains(err.Error(), "unreadable") {
		t.Fatalf("err = %v", err)
	}
	if r.Signer().Kid != kid || r.Current() != set {
		t.Fatal("keys in memory changed")
	}
	if string(st.get(testRingKey)) != `{"version":1}` {
		t.Fatal("the unreadable ring was replaced")
	}
}

// A storage that fails is an error; nothing is generated or stored.
func TestLoadRingStorageError(t *testing.T) {
	st := newMemStorage()
	st.loadErr = errors.New("disk on fire")
	_, err := LoadRing(context.Background(), ringConfig(st, newClock()))
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("err = %v", err)
	}
	if st.storeCount() != 0 {
		t.Fatal("a ring was stored although storage could not be read")
	}

	// A lock that cannot be taken (here: ctx ends while another holder has it) is an error too.
	st = newMemStorage()
	st.Lock(context.Background(), testRingKey)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := LoadRing(ctx, ringConfig(st, newClock())); err == nil || !strings.Contains(err.Error(), "lock") {
		t.Fatalf("err = %v", err)
	}
	if st.storeCount() != 0 {
		t.Fatal("a ring was stored without the lock")
	}
}

// Rotation with a fake clock: the successor is published ahead of its use, takes over at its
// time, and the retired key stays in Current() and the JWK Set until KeepFor has passed.
func TestRingRotation(t *testing.T) {
	st := newMemStorage()
	c := newClock()
	core, logs := observer.New(zap.InfoLevel)
	cfg := ringConfig(st, c)
	cfg.RotateEvery, cfg.KeepFor, cfg.Logger = time.Hour, 2*time.Hour, zap.New(core)
	// OnRotate counts the rotations each instance stored, not the ones it picked up.
	var rotations, otherRotations int
	rcfg, ocfg := cfg, cfg
	rcfg.OnRotate = func() { rotations++ }
	ocfg.OnRotate = func() { otherRotations++ }
	r := mustLoadRing(t, rcfg)
	other := mustLoadRing(t, ocfg) // another instance on the same storage
	k0 := r.Signer()
	set0, jwks0 := r.Current(), r.JWKS()
	ctx := context.Background()

	c.Add(30 * time.Minute)
	if err := r.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if r.Current() != set0 || &r.JWKS()[0] != &jwks0[0] {
		t.Fatal("Current or JWKS changed although the ring did not")
	}

	// 5 minutes before the hour the successor is stored and trusted, but does not sign yet.
	c.Set(testNow.Add(55 * time.Minute))
	if err := r.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if r.Current() == set0 || r.Current().Len() != 2 {
		t.Fatalf("after rotation Current has %d keys", r.Current().Len())
	}
	if r.Signer().Kid != k0.Kid {
		t.Fatal("the successor signs before its time")
	}
	var k1 *Signer
	for _, k := range r.state.Load().keys {
		if k.signer.Kid != k0.Kid {
			k1 = k.signer
		}
	}
	if !strings.Contains(string(r.JWKS()), k1.Kid) || !strings.Contains(string(r.JWKS()), k0.Kid) {
		t.Fatal("JWKS does not publish both keys")
	}
	// The other instance picks the rotation up instead of rotating on its own.
	if err := other.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if !other.Current().HasID(k1.Kid) || other.Current().Len() != 2 {
		t.Fatal("the other instance did not pick up the rotation")
	}
	setAfter := other.Current()
	if err := other.Maintain(ctx); err != nil || other.Current() != setAfter {
		t.Fatal("Current changed without a change in storage")
	}

	// A token signed by k0 now stays valid after the switch.
	oldToken, _ := k0.Sign([]byte(`{"exp":` + itoa(testNow.Add(3*time.Hour).Unix()) + `}`)) // lives as long as KeepFor allows

	c.Set(testNow.Add(time.Hour))
	if r.Signer().Kid != k1.Kid || other.Signer().Kid != k1.Kid {
		t.Fatal("the successor does not sign at its time")
	}
	verifyOurs(t, r, c.Now, "", oldToken)

	// The retired key stays until KeepFor after its retirement (the hour mark), even though the
	// next rotation (at 2h) happens meanwhile.
	for _, at := range []time.Duration{2 * time.Hour, 3*time.Hour - time.Second} {
		c.Set(testNow.Add(at))
		if err := r.Maintain(ctx); err != nil {
			t.Fatal(err)
		}
		if !r.Current().HasID(k0.Kid) || !strings.Contains(string(r.JWKS()), k0.Kid) {
			t.Fatalf("retired key dropped at %s, before KeepFor passed", at)
		}
	}
	verifyOurs(t, r, c.Now, "", oldToken)
	c.Set(testNow.Add(3 * time.Hour))
	if err := r.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if r.Current().HasID(k0.Kid) || strings.Contains(string(r.JWKS()), k0.Kid) {
		t.Fatal("retired key kept after KeepFor")
	}
	if !r.Current().HasID(k1.Kid) {
		t.Fatal("k1 dropped")
	}

	// The stored ring says the same, and events were logged with key ids only: three rotations
	// (at 55m, 2h and 3h), one key dropped.
	back := mustLoadRing(t, cfg)
	if back.Current().HasID(k0.Kid) || back.Signer().Kid != r.Signer().Kid {
		t.Fatal("storage disagrees with the ring")
	}
	if logs.FilterMessage("rotating signing key").Len() != 3 || logs.FilterMessage("dropped retired signing key").Len() != 1 {
		t.Fatalf("log events: %v", logs.All())
	}
	if rotations != 3 || otherRotations != 0 {
		t.Errorf("OnRotate called %d times for the rotating instance and %d for the other, want 3 and 0", rotations, otherRotations)
	}
	for _, e := range logs.All() {
		if strings.Contains(fmt.Sprint(e.ContextMap()), "BEGIN") {
			t.Fatal("key material logged")
		}
	}
}

// A ring loaded long after its rotation was due rotates at once, publishing the successor ahead
// of its use all the same.
func TestLoadRingOverdueRotation(t *testing.T) {
	st := newMemStorage()
	c := newClock()
	cfg := ringConfig(st, c)
	cfg.RotateEvery, cfg.KeepFor = time.Hour, time.Hour
	rotations := 0
	cfg.OnRotate = func() { rotations++ }
	k0 := mustLoadRing(t, cfg).Signer()
	if rotations != 0 {
		t.Fatalf("creating a ring counted %d rotations", rotations)
	}
	c.Add(10 * time.Hour)
	r := mustLoadRing(t, cfg)
	if rotations != 1 {
		t.Errorf("the overdue rotation at load counted %d rotations, want 1", rotations)
	}
	if r.Current().Len() != 2 || r.Signer() == nil || r.Signer().Kid != k0.Kid {
		t.Fatal("overdue rotation did not publish a successor ahead of time")
	}
	c.Add(publishAhead)
	if r.Signer().Kid == k0.Kid {
		t.Fatal("successor not in use after the lead time")
	}
}

// A ring removed from storage is written back by Maintain, so instances keep agreeing.
func TestMaintainRestoresDeletedRing(t *testing.T) {
	st := newMemStorage()
	c := newClock()
	r := mustLoadRing(t, ringConfig(st, c))
	kid, set := r.Signer().Kid, r.Current()
	st.Delete(context.Background(), testRingKey)
	if err := r.Maintain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r.Signer().Kid != kid || r.Current() != set {
		t.Fatal("ring changed")
	}
	if mustLoadRing(t, ringConfig(st, c)).Signer().Kid != kid {
		t.Fatal("ring not written back")
	}
}

func TestRingConfigErrors(t *testing.T) {
	st := newMemStorage()
	tests := []struct {
		name    string
		cfg     RingConfig
		wantErr string
	}{
		{"no storage", RingConfig{Key: "k", Alg: "ES256"}, "no storage"},
		{"no key", RingConfig{Storage: st, Alg: "ES256"}, "no storage key"},
		{"HMAC", RingConfig{Storage: st, Key: "k", Alg: "HS256"}, "use ES256, EdDSA or RS256"},
		{"negative", RingConfig{Storage: st, Key: "k", Alg: "ES256", RotateEvery: -time.Hour}, "negative"},
		{"too often", RingConfig{Storage: st, Key: "k", Alg: "ES256", RotateEvery: time.Second, KeepFor: time.Hour}, "too often"},
		{"no retention", RingConfig{Storage: st, Key: "k", Alg: "ES256", RotateEvery: time.Hour}, "retention"},
		{"too many keys", RingConfig{Storage: st, Key: "k", Alg: "ES256", RotateEvery: time.Hour, KeepFor: 48 * time.Hour}, "rotate every 1h36m0s or less often"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadRing(context.Background(), tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
	if st.storeCount() != 0 {
		t.Fatal("a bad configuration stored a ring")
	}
}

// An HMAC ring publishes an empty JWK Set and verifies with its secret only.
func TestStaticRingHMAC(t *testing.T) {
	s := signerFor(t, "HS256")
	r := StaticRing(s)
	if string(r.JWKS()) != `{"keys":[]}` {
		t.Fatalf("JWKS = %s", r.JWKS())
	}
	if r.Signer() != s || r.Current().Len() != 1 || r.Current() != r.Current() {
		t.Fatal("static ring does not hold its signer")
	}
	if r.Maintain(context.Background()) != nil || r.Signer() != s {
		t.Fatal("Maintain changed a static ring")
	}
	var _ keys.Provider = r
}

// A ring whose rotation was switched off and that has no KeepFor keeps its retired keys: the
// tokens they signed may still be live.
func TestRingKeepsRetiredWithoutKeepFor(t *testing.T) {
	st := newMemStorage()
	c := newClock()
	cfg := ringConfig(st, c)
	cfg.RotateEvery, cfg.KeepFor = time.Hour, time.Hour
	r := mustLoadRing(t, cfg)
	c.Add(time.Hour)
	if err := r.Maintain(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.Add(100 * time.Hour)
	r = mustLoadRing(t, ringConfig(st, c))
	if err := r.Maintain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r.Current().Len() != 2 {
		t.Fatalf("Current has %d keys, want the retired one kept", r.Current().Len())
	}
}
