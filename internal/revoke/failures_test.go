package revoke

import (
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/kv"
)

// TestStorageFailuresFailClosed: a storage failure is returned as an error, never as "not
// revoked" (nil) and never as a verdict on the token.
func TestStorageFailuresFailClosed(t *testing.T) {
	tests := []struct {
		name  string
		setup func(f *fixture) // state before the failure
		fail  kv.Op
		match string // with fail 0: fail every op on keys containing this
		call  func(s *Store) error
		after func(f *fixture) // checks once healed
	}{
		{name: "Check, storage down", fail: kv.OpDown,
			call: func(s *Store) error { return s.Check(ctx, "j1", "f1") }},
		{name: "Check, jti read fails", match: "/jti/",
			call: func(s *Store) error { return s.Check(ctx, "j1", "f1") }},
		{name: "Check, family read fails", match: "/family/",
			call: func(s *Store) error { return s.Check(ctx, "j1", "f1") }},
		{name: "Revoke, read fails", fail: kv.OpLoad,
			call: func(s *Store) error { return s.Revoke(ctx, "j1", exp) }},
		{name: "Revoke, read-only", fail: kv.OpWrite,
			call: func(s *Store) error { return s.Revoke(ctx, "j1", exp) }},
		{name: "RevokeFamily, read-only", fail: kv.OpWrite,
			call: func(s *Store) error { return s.RevokeFamily(ctx, "f1", exp) }},
		{name: "Rotate, storage down", fail: kv.OpDown,
			call:  func(s *Store) error { return s.Rotate(ctx, "j1", "f1", exp) },
			after: rotatesOnce},
		{name: "Rotate, lock fails", fail: kv.OpLock,
			call:  func(s *Store) error { return s.Rotate(ctx, "j1", "f1", exp) },
			after: rotatesOnce},
		{name: "Rotate, mark write fails", fail: kv.OpStore,
			call:  func(s *Store) error { return s.Rotate(ctx, "j1", "f1", exp) },
			after: rotatesOnce},
		{name: "Rotate, revocation read fails under the lock", match: "/family/",
			call:  func(s *Store) error { return s.Rotate(ctx, "j1", "f1", exp) },
			after: rotatesOnce},
		{name: "Rotate reuse, family write fails",
			setup: func(f *fixture) {
				if err := f.store.Rotate(ctx, "j1", "f1", exp); err != nil {
					f.t.Fatal(err)
				}
			},
			fail: kv.OpStore,
			call: func(s *Store) error { return s.Rotate(ctx, "j1", "f1", exp) },
			after: func(f *fixture) {
				// Reported, and caught again (and the family revoked) on the next try.
				checkReuseLogged(f.t, f.logs, "f1", 1)
				if err := f.store.Rotate(ctx, "j1", "f1", exp); err != ErrReused {
					f.t.Fatalf("Rotate once healed = %v, want ErrReused", err)
				}
				if err := f.store.Check(ctx, "j2", "f1"); err != ErrRevoked {
					f.t.Fatalf("Check once healed = %v, want ErrRevoked", err)
				}
			}},
		{name: "Purge, list fails", setup: expiredEntry, fail: kv.OpList,
			call: func(s *Store) error { _, err := s.Purge(ctx); return err }},
		{name: "Purge, read fails", setup: expiredEntry, fail: kv.OpLoad,
			call: func(s *Store) error { _, err := s.Purge(ctx); return err }},
		{name: "Purge, delete fails", setup: expiredEntry, fail: kv.OpDelete,
			call: func(s *Store) error { _, err := s.Purge(ctx); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if tt.setup != nil {
				tt.setup(f)
			}
			f.storage.Fail(tt.fail)
			if tt.match != "" {
				f.storage.FailIf(func(_ kv.Op, key string) bool { return strings.Contains(key, tt.match) })
			}
			err := tt.call(f.store)
			if !errors.Is(err, kv.ErrInjected) || errors.Is(err, ErrRevoked) || errors.Is(err, ErrReused) {
				t.Fatalf("err = %v, want the storage failure", err)
			}
			f.storage.Heal()
			if tt.after != nil {
				tt.after(f)
			}
		})
	}
}

// rotatesOnce checks that a failed rotation did not spend the token: once healed, it rotates.
func rotatesOnce(f *fixture) {
	f.t.Helper()
	if err := f.store.Rotate(ctx, "j1", "f1", exp); err != nil {
		f.t.Fatalf("Rotate once healed = %v, want nil (the failed call must not spend the token)", err)
	}
}

func expiredEntry(f *fixture) {
	f.t.Helper()
	if err := f.store.Revoke(ctx, "j1", t0.Add(-24*60*60*1e9)); err != nil {
		f.t.Fatal(err)
	}
}

// TestExistsIsNotTrusted: an Exists that (wrongly) says no changes nothing, as the store never
// decides on it.
func TestExistsIsNotTrusted(t *testing.T) {
	f := newFixture(t)
	if err := f.store.Revoke(ctx, "j1", exp); err != nil {
		t.Fatal(err)
	}
	if err := f.store.Rotate(ctx, "j2", "f2", exp); err != nil {
		t.Fatal(err)
	}
	f.storage.Fail(kv.OpExists)
	if err := f.store.Check(ctx, "j1", ""); err != ErrRevoked {
		t.Fatalf("Check = %v, want ErrRevoked", err)
	}
	if err := f.store.Rotate(ctx, "j2", "f2", exp); err != ErrReused {
		t.Fatalf("Rotate = %v, want ErrReused", err)
	}
}
