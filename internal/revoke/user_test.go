package revoke

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/kv"
	"github.com/gatehouse-dev/gatehouse/internal/verify"
)

// TestRevokeUser: a user's revocation refuses that user's tokens issued up to the second of
// the revocation, and no one else's; tokens issued after it pass; another store on the same
// storage (another instance) sees it.
func TestRevokeUser(t *testing.T) {
	f := newFixture(t)
	other, _ := f.newStore(f.storage)
	if err := f.store.CheckUser(ctx, "alice", t0.Add(-time.Hour)); err != nil {
		t.Fatalf("before any revocation: %v", err)
	}
	f.now = t0.Add(500 * time.Millisecond)
	if err := f.store.RevokeUser(ctx, "alice", f.now.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		user string
		iat  time.Time
		want error
	}{
		{"alice", t0.Add(-time.Hour), ErrUserRevoked},
		{"alice", t0, ErrUserRevoked},          // the same second as the revocation
		{"alice", time.Time{}, ErrUserRevoked}, // no iat
		{"alice", t0.Add(time.Second), nil},    // the next second: a new login
		{"bob", t0.Add(-time.Hour), nil},
		{"Alice", t0.Add(-time.Hour), nil}, // user ids are compared exactly
		{"", t0.Add(-time.Hour), nil},
	} {
		for _, s := range []*Store{f.store, other} {
			if err := s.CheckUser(ctx, tt.user, tt.iat); !errors.Is(err, tt.want) {
				t.Errorf("CheckUser(%q, %v) = %v, want %v", tt.user, tt.iat, err, tt.want)
			}
		}
	}
	if !errors.Is(ErrUserRevoked, ErrRevoked) {
		t.Error("ErrUserRevoked is not an ErrRevoked: the issuer would not answer it as a blacklisted token")
	}
	// The store keeps a hash of the user id, never the id.
	for _, key := range f.keys() {
		if strings.Contains(key, "alice") || strings.Contains(f.value(key), "alice") {
			t.Errorf("storage holds the user id: %s = %s", key, f.value(key))
		}
	}
}

// TestRevokeUserNeverMovesBack: a later revocation moves the epoch on, an earlier expiry or
// clock never shortens it or moves it back, and Purge deletes it only after its tokens expired.
func TestRevokeUserNeverMovesBack(t *testing.T) {
	f := newFixture(t)
	f.now = t0.Add(time.Hour)
	if err := f.store.RevokeUser(ctx, "alice", t0.Add(25*time.Hour)); err != nil {
		t.Fatal(err)
	}
	f.now = t0 // a clock behind, and a shorter lifetime
	if err := f.store.RevokeUser(ctx, "alice", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := f.store.CheckUser(ctx, "alice", t0.Add(30*time.Minute)); !errors.Is(err, ErrUserRevoked) {
		t.Fatalf("the epoch moved back: %v", err)
	}
	f.now = t0.Add(25*time.Hour + verify.MaxLeeway - time.Second)
	if n, err := f.store.Purge(ctx); n != 0 || err != nil {
		t.Fatalf("Purge before the tokens expired = %d, %v", n, err)
	}
	f.now = t0.Add(25*time.Hour + verify.MaxLeeway + time.Second)
	if n, err := f.store.Purge(ctx); n != 1 || err != nil {
		t.Fatalf("Purge after = %d, %v; want 1", n, err)
	}
	if err := f.store.CheckUser(ctx, "alice", t0); err != nil {
		t.Fatalf("after purge: %v", err)
	}
}

// TestCheckUserFailsClosed: a storage failure is an error, never "not revoked", and a damaged
// entry refuses.
func TestCheckUserFailsClosed(t *testing.T) {
	f := newFixture(t)
	f.storage.Fail(kv.OpLoad)
	if err := f.store.CheckUser(ctx, "alice", t0); !errors.Is(err, kv.ErrInjected) {
		t.Fatalf("CheckUser with the storage failing = %v", err)
	}
	if err := f.store.RevokeUser(ctx, "alice", exp); !errors.Is(err, kv.ErrInjected) {
		t.Fatalf("RevokeUser with the storage failing = %v", err)
	}
	f.storage.Heal()
	f.put(k("user", UserKey("alice")), "garbage")
	if err := f.store.CheckUser(ctx, "alice", t0.Add(time.Hour)); !errors.Is(err, ErrUserRevoked) {
		t.Fatalf("damaged entry: %v, want ErrUserRevoked", err)
	}
	if err := f.store.RevokeUser(ctx, "", exp); err == nil {
		t.Fatal("RevokeUser of an empty user id succeeded")
	}
}
