package revoke

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/gatehouse-dev/gatehouse/internal/kv"
)

// step is one call in a rotation scenario.
type step struct {
	op          string // "rotate", "check", "revoke", "family"
	jti, family string
	want        error
}

func TestRotateRules(t *testing.T) {
	tests := []struct {
		name   string
		steps  []step
		reuses int // reuse events logged
	}{
		{"first use wins", []step{
			{"rotate", "j1", "f1", nil},
			{"check", "j1", "f1", nil}, // used is not revoked: a reuse must reach Rotate to be detected
		}, 0},
		{"second use is reuse and revokes the family", []step{
			{"rotate", "j1", "f1", nil},
			{"rotate", "j1", "f1", ErrReused},
			{"check", "j1", "f1", ErrRevoked},
			{"check", "j2", "f1", ErrRevoked}, // the winner's successor too
			{"rotate", "j2", "f1", ErrRevoked},
			{"check", "j9", "f9", nil}, // other families untouched
		}, 1},
		{"every later use is reuse", []step{
			{"rotate", "j1", "f1", nil},
			{"rotate", "j1", "f1", ErrReused},
			{"rotate", "j1", "f1", ErrReused},
		}, 2},
		{"successor chain", []step{
			{"rotate", "j1", "f1", nil},
			{"rotate", "j2", "f1", nil},
			{"rotate", "j3", "f1", nil},
			{"check", "j4", "f1", nil},
			{"rotate", "j2", "f1", ErrReused}, // an old token replayed ends the session
			{"check", "j4", "f1", ErrRevoked},
		}, 1},
		{"blacklisted token is not rotated", []step{
			{"revoke", "j1", "", nil},
			{"rotate", "j1", "f1", ErrRevoked},
			{"check", "j2", "f1", nil}, // a refused rotation is no reuse
		}, 0},
		{"revoked family is not rotated", []step{
			{"family", "", "f1", nil},
			{"rotate", "j1", "f1", ErrRevoked},
			{"rotate", "j1", "f1", ErrRevoked}, // and the refused one was not marked used
		}, 0},
		{"reuse after logout is still reuse", []step{
			{"rotate", "j1", "f1", nil},
			{"family", "", "f1", nil},
			{"rotate", "j1", "f1", ErrReused},
		}, 1},
		{"same jti in another family is one token id", []step{
			{"rotate", "j1", "f1", nil},
			{"rotate", "j1", "f2", ErrReused},
			{"check", "j5", "f2", ErrRevoked},
			{"check", "j5", "f1", nil},
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			for i, s := range tt.steps {
				var err error
				switch s.op {
				case "rotate":
					err = f.store.Rotate(ctx, s.jti, s.family, exp)
				case "check":
					err = f.store.Check(ctx, s.jti, s.family)
				case "revoke":
					err = f.store.Revoke(ctx, s.jti, exp)
				case "family":
					err = f.store.RevokeFamily(ctx, s.family, exp)
				}
				if err != s.want {
					t.Fatalf("step %d %s(%s, %s) = %v, want %v", i, s.op, s.jti, s.family, err, s.want)
				}
			}
			fam := ""
			for _, s := range tt.steps {
				if s.op == "rotate" && s.want == ErrReused {
					fam = s.family
				}
			}
			checkReuseLogged(t, f.logs, fam, tt.reuses)
		})
	}
}

// rotateConcurrently calls Rotate(jti, family) from n goroutines, goroutine i on stores[i %
// len(stores)], all released at once, and returns how many got nil and ErrReused.
func rotateConcurrently(t *testing.T, stores []*Store, n int, jti, family string) (won, reused int) {
	t.Helper()
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = stores[i%len(stores)].Rotate(ctx, jti, family, exp)
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		switch err {
		case nil:
			won++
		case ErrReused:
			reused++
		default:
			t.Errorf("Rotate = %v, want nil or ErrReused", err)
		}
	}
	return won, reused
}

func TestRotateConcurrentOneWins(t *testing.T) {
	f := newFixture(t)
	won, reused := rotateConcurrently(t, []*Store{f.store}, 64, "j1", "f1")
	if won != 1 || reused != 63 {
		t.Fatalf("%d won and %d reused; want 1 and 63", won, reused)
	}
	if err := f.store.Check(ctx, "j1", "f1"); err != ErrRevoked {
		t.Fatalf("Check of the token = %v, want ErrRevoked", err)
	}
	if err := f.store.Check(ctx, "j2", "f1"); err != ErrRevoked {
		t.Fatalf("Check of the winner's successor = %v, want ErrRevoked", err)
	}
	// State intact: the used mark and the revoked family, nothing else, lock released.
	if got, want := f.keys(), []string{k("family", "f1"), k("used", "j1")}; !slices.Equal(got, want) {
		t.Fatalf("keys %q, want %q", got, want)
	}
	if err := f.mem.Lock(ctx, f.store.lockName("j1")); err != nil {
		t.Fatal(err)
	}
	checkReuseLogged(t, f.logs, "f1", 63)
}

// TestRotateConcurrentTwoStores: two Stores over one storage are two processes; only the
// storage lock orders them.
func TestRotateConcurrentTwoStores(t *testing.T) {
	f := newFixture(t)
	other, _ := f.newStore(f.storage)
	won, reused := rotateConcurrently(t, []*Store{f.store, other}, 64, "j1", "f1")
	if won != 1 || reused != 63 {
		t.Fatalf("%d won and %d reused; want 1 and 63", won, reused)
	}
	for _, s := range []*Store{f.store, other} {
		if err := s.Check(ctx, "j2", "f1"); err != ErrRevoked {
			t.Fatalf("Check = %v, want ErrRevoked from both stores", err)
		}
	}
	// What one process revokes, the other refuses.
	if err := other.Revoke(ctx, "j7", exp); err != nil {
		t.Fatal(err)
	}
	if err := f.store.Check(ctx, "j7", ""); err != ErrRevoked {
		t.Fatalf("Check of a jti revoked by the other store = %v", err)
	}
}

// TestRotateFileStorage runs two Stores over Caddy's default storage, whose locks are lock
// files polled once a second: the cross-process path for real.
func TestRotateFileStorage(t *testing.T) {
	dir := t.TempDir()
	f := newFixture(t)
	a, _ := f.newStore(&certmagic.FileStorage{Path: dir})
	b, _ := f.newStore(&certmagic.FileStorage{Path: dir})
	won, reused := rotateConcurrently(t, []*Store{a, b}, 16, "0123456789abcdef0123456789abcdef", "f1")
	if won != 1 || reused != 15 {
		t.Fatalf("%d won and %d reused; want 1 and 15", won, reused)
	}
	if err := b.Check(ctx, "j2", "f1"); err != ErrRevoked {
		t.Fatalf("Check = %v, want ErrRevoked", err)
	}
	// A restart (a new Store) forgets nothing.
	c, _ := f.newStore(&certmagic.FileStorage{Path: dir})
	if err := c.Rotate(ctx, "0123456789abcdef0123456789abcdef", "f1", exp); err != ErrReused {
		t.Fatalf("Rotate after a restart = %v, want ErrReused", err)
	}
}

// TestRotateWaitsForTheStorageLock: while another process holds the rotation lock, Rotate
// waits, bounded by its context, and leaves the token unused.
func TestRotateWaitsForTheStorageLock(t *testing.T) {
	f := newFixture(t)
	name := f.store.lockName("j1")
	if err := f.mem.Lock(ctx, name); err != nil {
		t.Fatal(err)
	}
	c, cancel := context.WithCancel(ctx)
	cancel()
	if err := f.store.Rotate(c, "j1", "f1", exp); !errors.Is(err, context.Canceled) {
		t.Fatalf("Rotate while the lock is held elsewhere = %v, want context.Canceled", err)
	}
	if got := f.keys(); len(got) != 0 {
		t.Fatalf("keys %q written", got)
	}
	// Once released, the waiting call proceeds and wins.
	got := make(chan error)
	go func() { got <- f.store.Rotate(ctx, "j1", "f1", exp) }()
	if err := f.mem.Unlock(ctx, name); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("Rotate after the lock was released = %v", err)
	}
}

// TestRotateReleasesTheLockOfAnAbandonedRequest: the context is cancelled during the
// rotation; the lock is released all the same.
func TestRotateReleasesTheLockOfAnAbandonedRequest(t *testing.T) {
	f := newFixture(t)
	c, cancel := context.WithCancel(ctx)
	defer cancel()
	f.storage.FailIf(func(op kv.Op, key string) bool {
		if op == kv.OpStore {
			cancel() // the client goes away just as the mark is written
		}
		return false
	})
	if err := f.store.Rotate(c, "j1", "f1", exp); err != nil {
		t.Fatal(err)
	}
	if err := f.mem.Lock(ctx, f.store.lockName("j1")); err != nil {
		t.Fatalf("the rotation lock is still held: %v", err)
	}
}

// TestRotateUnlockFailure: the mark is written, so the rotation happened; the lock that could
// not be released is logged, and the token is spent all the same.
func TestRotateUnlockFailure(t *testing.T) {
	f := newFixture(t)
	f.storage.Fail(kv.OpUnlock)
	if err := f.store.Rotate(ctx, "j1", "f1", exp); err != nil {
		t.Fatalf("Rotate = %v", err)
	}
	if n := f.logs.FilterMessage("cannot release the rotation lock").Len(); n != 1 {
		t.Fatalf("%d lock release errors logged, want 1", n)
	}
	// Reuse is detected without the (stuck) lock.
	if err := f.store.Rotate(ctx, "j1", "f1", exp); err != ErrReused {
		t.Fatalf("second Rotate = %v, want ErrReused", err)
	}
}

// TestRotateLosesToAnotherProcessBeforeTheLock: another process wins between this one's first
// look at the mark and its taking the lock; the look under the lock catches it.
func TestRotateLosesToAnotherProcessBeforeTheLock(t *testing.T) {
	f := newFixture(t)
	other, _ := f.newStore(f.mem)
	f.storage.FailIf(func(op kv.Op, _ string) bool {
		if op == kv.OpLock {
			f.storage.FailIf(nil)
			if err := other.Rotate(ctx, "j1", "f1", exp); err != nil {
				t.Errorf("the other process's Rotate = %v", err)
			}
		}
		return false
	})
	if err := f.store.Rotate(ctx, "j1", "f1", exp); err != ErrReused {
		t.Fatalf("Rotate = %v, want ErrReused", err)
	}
}

// TestRotateWithinGrace: a second rotation of one token less than the grace after the first is
// let through (a browser's parallel requests on another instance), one after it is reuse and
// revokes the family, and a token whose family was revoked meanwhile is not let through.
func TestRotateWithinGrace(t *testing.T) {
	f := newFixture(t)
	if err := f.store.RotateWithin(ctx, "j1", "f1", exp, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(29 * time.Second)
	if err := f.store.RotateWithin(ctx, "j1", "f1", exp, 30*time.Second); err != nil {
		t.Fatalf("within the grace: %v, want nil", err)
	}
	if err := f.store.Rotate(ctx, "j1", "f1", exp); err != ErrReused {
		t.Fatalf("without a grace: %v, want ErrReused", err)
	}
	if err := f.store.RotateWithin(ctx, "j1", "f1", exp, 30*time.Second); err != ErrRevoked {
		t.Fatalf("within the grace of a revoked family: %v, want ErrRevoked", err)
	}
	if err := f.store.RotateWithin(ctx, "j2", "f2", exp, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(30 * time.Second)
	if err := f.store.RotateWithin(ctx, "j2", "f2", exp, 30*time.Second); err != ErrReused {
		t.Fatalf("after the grace: %v, want ErrReused", err)
	}
}
