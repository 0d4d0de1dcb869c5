package redisstore

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/revoke"
	"github.com/gatehouse-dev/gatehouse/internal/verify"
)

var ctx = context.Background()

// TestRotateOneWinnerAcrossInstances: of 64 concurrent rotations of one refresh token through
// two Stores (two instances on one Redis), exactly one wins; the others are reuse, and the
// family is revoked for both instances.
func TestRotateOneWinnerAcrossInstances(t *testing.T) {
	r := startRedis(t)
	a, _ := r.open(t, "rot")
	b, _ := r.open(t, "rot")
	ra, rb := a.Revocations("shop", nil), b.Revocations("shop", nil)
	exp := time.Now().Add(time.Hour)
	var (
		wg          sync.WaitGroup
		mu          sync.Mutex
		won, reused int
		others      []error
		start       = make(chan struct{})
	)
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rv := ra
			if i%2 == 1 {
				rv = rb
			}
			<-start
			err := rv.Rotate(ctx, "jti-1", "fam-1", exp)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case errors.Is(err, revoke.ErrReused):
				reused++
			default:
				others = append(others, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if won != 1 || reused != 63 || len(others) > 0 {
		t.Fatalf("won %d, reused %d, other errors %v; want 1 and 63", won, reused, others)
	}
	for _, rv := range []*Revocations{ra, rb} {
		if err := rv.Check(ctx, "jti-2", "fam-1"); !errors.Is(err, revoke.ErrRevoked) {
			t.Errorf("a successor in the reused family: %v, want ErrRevoked", err)
		}
	}
	if err := ra.Check(ctx, "jti-3", "fam-other"); err != nil {
		t.Errorf("another family: %v", err)
	}
}

// TestRevocationsExpireAfterTheirToken: entries carry a TTL of the token's expiry plus the
// longest leeway, are never shortened, and a revoked token is not rotated (nor marked used).
func TestRevocationsExpireAfterTheirToken(t *testing.T) {
	r := startRedis(t)
	s, _ := r.open(t, "ttl")
	rv := s.Revocations("shop", nil)
	exp := time.Now().Add(10 * time.Minute)
	if err := rv.Revoke(ctx, "j1", exp); err != nil {
		t.Fatal(err)
	}
	key := rv.key("jti", "j1")
	at, err := s.client.PExpireTime(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	if want := exp.Add(verify.MaxLeeway).UnixMilli(); at.Milliseconds() != want {
		t.Errorf("expires at %d, want %d (exp + MaxLeeway)", at.Milliseconds(), want)
	}
	if err := rv.Revoke(ctx, "j1", exp.Add(-5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if at2, _ := s.client.PExpireTime(ctx, key).Result(); at2 != at {
		t.Errorf("an earlier expiry shortened the entry: %v -> %v", at, at2)
	}
	if err := rv.Check(ctx, "j1", ""); !errors.Is(err, revoke.ErrRevoked) {
		t.Errorf("blacklisted jti: %v", err)
	}
	if err := rv.Rotate(ctx, "j1", "f1", exp); !errors.Is(err, revoke.ErrRevoked) {
		t.Errorf("rotating a blacklisted token: %v, want ErrRevoked", err)
	}
	if n, _ := s.client.Exists(ctx, rv.key("used", "j1")).Result(); n != 0 {
		t.Error("a refused rotation marked the token used")
	}
	if err := rv.Check(ctx, "../x", ""); !errors.Is(err, revoke.ErrInvalidID) {
		t.Errorf("an id that is no id: %v", err)
	}
}

// TestLimiterSharedAcrossInstances: two Limiters (two instances) count one budget; a refused
// attempt does not count; a refund gives one back; the wait is whole seconds.
func TestLimiterSharedAcrossInstances(t *testing.T) {
	r := startRedis(t)
	a, _ := r.open(t, "lim")
	b, _ := r.open(t, "lim")
	la, lb := a.Limiter("shop", "client_ip", 3, time.Hour), b.Limiter("shop", "client_ip", 3, time.Hour)
	for i, l := range []*Limiter{la, lb, la} {
		if ok, _, err := l.Allow(ctx, "203.0.113.9"); !ok || err != nil {
			t.Fatalf("attempt %d: %v %v", i+1, ok, err)
		}
	}
	ok, wait, err := lb.Allow(ctx, "203.0.113.9")
	if ok || err != nil || wait < time.Second || wait > 20*time.Minute || wait%time.Second != 0 {
		t.Fatalf("fourth attempt on the other instance: ok %v, wait %v, %v; want refused with about 20m", ok, wait, err)
	}
	if ok, _, _ := la.Allow(ctx, "198.51.100.1"); !ok {
		t.Error("another key shares the budget")
	}
	lu := a.Limiter("shop", "username", 1, time.Hour)
	refund, ok, _, err := lu.Reserve(ctx, "alice")
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	refund()
	refund() // once only
	if ok, _, _ := b.Limiter("shop", "username", 1, time.Hour).Allow(ctx, "alice"); !ok {
		t.Error("a refunded attempt still counts")
	}
	if ok, _, _ := lu.Allow(ctx, "alice"); ok {
		t.Error("a second refund was given back")
	}
}

// TestStorageForTheKeyRing: the kv.Storage of an issuer stores and loads, reports a missing
// key as fs.ErrNotExist, lists, and its lock keeps a second holder out until released.
func TestStorageForTheKeyRing(t *testing.T) {
	r := startRedis(t)
	a, _ := r.open(t, "kv")
	b, _ := r.open(t, "kv")
	sa, sb := a.Storage("shop"), b.Storage("shop")
	if _, err := sa.Load(ctx, "keys/ES256.json"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing key: %v", err)
	}
	if err := sa.Store(ctx, "keys/ES256.json", []byte("ring")); err != nil {
		t.Fatal(err)
	}
	if v, err := sb.Load(ctx, "keys/ES256.json"); err != nil || string(v) != "ring" {
		t.Fatalf("the other instance loads %q, %v", v, err)
	}
	if l, err := sb.List(ctx, "keys", false); err != nil || len(l) != 1 || l[0] != "keys/ES256.json" {
		t.Errorf("list: %v %v", l, err)
	}
	if a.Storage("other").Exists(ctx, "keys/ES256.json") {
		t.Error("another issuer sees the key")
	}
	if err := sa.Lock(ctx, "ring"); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if err := sb.Lock(short, "ring"); err == nil {
		t.Fatal("a second holder took a held lock")
	}
	if err := sb.Unlock(ctx, "ring"); err == nil {
		t.Error("a lock not held here was released")
	}
	got := make(chan error, 1)
	go func() { got <- sb.Lock(ctx, "ring") }()
	time.Sleep(100 * time.Millisecond)
	if err := sa.Unlock(ctx, "ring"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting holder never got the released lock")
	}
	if err := sb.Unlock(ctx, "ring"); err != nil {
		t.Fatal(err)
	}
}

// TestOutageLoggedOnceAndRecovered: with the server down every call fails (the caller answers
// 503), one log line says so for the whole outage, and once the server is back calls work
// again on the same Store, with one line saying so.
func TestOutageLoggedOnceAndRecovered(t *testing.T) {
	r := startRedis(t)
	s, logs := r.open(t, "outage")
	rv := s.Revocations("shop", nil)
	exp := time.Now().Add(time.Hour)
	if err := rv.Revoke(ctx, "kept", exp); err != nil {
		t.Fatal(err)
	}
	r.stop(t)
	for range 20 {
		c, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := rv.Check(c, "j", "f")
		cancel()
		if err == nil || errors.Is(err, revoke.ErrRevoked) {
			t.Fatalf("with redis down: %v, want an error", err)
		}
	}
	if n := logs.FilterMessageSnippet("redis store unreachable").Len(); n != 1 {
		t.Fatalf("outage logged %d times, want once", n)
	}
	r.start(t)
	deadline := time.Now().Add(10 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		if err = rv.Check(ctx, "kept", ""); errors.Is(err, revoke.ErrRevoked) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !errors.Is(err, revoke.ErrRevoked) {
		t.Fatalf("after the restart: %v, want the revocation from before (append-only file)", err)
	}
	if n := logs.FilterMessageSnippet("redis store reachable again").Len(); n != 1 {
		t.Errorf("recovery logged %d times, want once", n)
	}
}

// TestURLRules: plain redis:// only to loopback (also for every Cluster address), known schemes
// only, no braces in the prefix; no error repeats a password.
func TestURLRules(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"redis://127.0.0.1:6379/0", ""},
		{"redis://localhost:6379", ""},
		{"rediss://user:pw@cache.example:6380/1", ""},
		{"unix:///run/redis.sock", ""},
		{"redis://[::1]:6379?master_name=mymaster", ""},
		{"redis://cache.example:6379", "only to a loopback host"},
		{"redis://127.0.0.1:7000?addr=10.0.0.2:7001", "only to a loopback host"},
		{"http://127.0.0.1:6379", "not redis, rediss or unix"},
		{"127.0.0.1:6379", "must look like"},
		{"rediss://u:hunter2@cache.example:6380/notadb", "does not parse"},
	} {
		err := CheckURL(tc.url)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.url, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want %q", tc.url, err, tc.want)
		case err != nil && strings.Contains(err.Error(), "hunter2"):
			t.Errorf("%s: the error repeats the password: %v", tc.url, err)
		}
	}
	if _, err := Open(Config{URL: "redis://127.0.0.1:6379", Prefix: "{x}"}); err == nil {
		t.Error("a prefix with braces was accepted")
	}
	if got := Redacted("rediss://u:hunter2@cache.example:6380/0"); strings.Contains(got, "hunter2") {
		t.Errorf("Redacted: %s", got)
	}
}

// TestRotateWithinGraceAcrossInstances: a session renewed on one instance may be renewed again
// on another within the grace (a browser's parallel requests), not after it, and not once the
// family is revoked.
func TestRotateWithinGraceAcrossInstances(t *testing.T) {
	r := startRedis(t)
	a, _ := r.open(t, "grace")
	b, _ := r.open(t, "grace")
	ra, rb := a.Revocations("shop", nil), b.Revocations("shop", nil)
	exp := time.Now().Add(time.Hour)
	if err := ra.RotateWithin(ctx, "j1", "f1", exp, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := rb.RotateWithin(ctx, "j1", "f1", exp, 30*time.Second); err != nil {
		t.Fatalf("the same session on the other instance within the grace: %v", err)
	}
	if err := ra.RotateWithin(ctx, "j2", "f2", exp, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if err := rb.RotateWithin(ctx, "j2", "f2", exp, 200*time.Millisecond); !errors.Is(err, revoke.ErrReused) {
		t.Fatalf("after the grace: %v, want ErrReused", err)
	}
	if err := ra.RotateWithin(ctx, "j3", "f2", exp, 30*time.Second); !errors.Is(err, revoke.ErrRevoked) {
		t.Fatalf("a token of the family revoked by the reuse: %v, want ErrRevoked", err)
	}
	if err := rb.Rotate(ctx, "j1", "f1", exp); !errors.Is(err, revoke.ErrReused) {
		t.Fatalf("without a grace: %v, want ErrReused", err)
	}
	if err := ra.RotateWithin(ctx, "j1", "f1", exp, 30*time.Second); !errors.Is(err, revoke.ErrRevoked) {
		t.Fatalf("within the grace of a revoked family: %v, want ErrRevoked", err)
	}
}

// TestRevokeUserAcrossInstances: a user's revocation on one instance refuses that user's
// tokens issued until then on the other, not later ones nor another user's; the epoch never
// moves back and the entry expires after the tokens it is about.
func TestRevokeUserAcrossInstances(t *testing.T) {
	r := startRedis(t)
	sa, _ := r.open(t, "users")
	sb, _ := r.open(t, "users")
	ra, rb := sa.Revocations("shop", nil), sb.Revocations("shop", nil)
	issued := time.Now().Add(-time.Minute)
	exp := time.Now().Add(time.Hour)
	if err := rb.CheckUser(ctx, "alice", issued); err != nil {
		t.Fatalf("before: %v", err)
	}
	if err := ra.RevokeUser(ctx, "alice", exp); err != nil {
		t.Fatal(err)
	}
	if err := rb.CheckUser(ctx, "alice", issued); !errors.Is(err, revoke.ErrUserRevoked) {
		t.Errorf("alice's earlier token: %v, want ErrUserRevoked", err)
	}
	if err := rb.CheckUser(ctx, "alice", time.Now().Add(2*time.Second)); err != nil {
		t.Errorf("alice's later token: %v", err)
	}
	if err := rb.CheckUser(ctx, "bob", issued); err != nil {
		t.Errorf("bob: %v", err)
	}
	key := ra.key("user", revoke.UserKey("alice"))
	if err := ra.RevokeUser(ctx, "alice", exp.Add(-30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	at, err := sa.client.PExpireTime(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	if want := exp.Add(verify.MaxLeeway).UnixMilli(); at.Milliseconds() != want {
		t.Errorf("expires at %d, want %d (the later exp + MaxLeeway)", at.Milliseconds(), want)
	}
	if err := sa.client.Set(ctx, key, "garbage", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rb.CheckUser(ctx, "alice", time.Now().Add(time.Hour)); !errors.Is(err, revoke.ErrUserRevoked) {
		t.Errorf("damaged entry: %v, want ErrUserRevoked", err)
	}
}
