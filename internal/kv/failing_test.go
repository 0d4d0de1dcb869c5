package kv

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// callAll calls every Storage method once on fresh keys and returns which failed.
func callAll(f *Failing) Op {
	var failed Op
	if f.Store(ctx, "w/k", []byte("v")) != nil {
		failed |= OpStore
	}
	if _, err := f.Load(ctx, "r/k"); err != nil {
		failed |= OpLoad
	}
	if !f.Exists(ctx, "r/k") {
		failed |= OpExists
	}
	if _, err := f.List(ctx, "r", false); err != nil {
		failed |= OpList
	}
	if f.Delete(ctx, "d/k") != nil {
		failed |= OpDelete
	}
	if f.Lock(ctx, "l") != nil {
		failed |= OpLock
	}
	if f.Unlock(ctx, "u") != nil {
		failed |= OpUnlock
	}
	return failed
}

// newFailing returns a Failing over a Memory holding r/k and d/k, with lock u held.
func newFailing(t *testing.T) *Failing {
	t.Helper()
	m := NewMemory()
	fill(t, m, "r/k", "d/k")
	if err := m.Lock(ctx, "u"); err != nil {
		t.Fatal(err)
	}
	return NewFailing(m)
}

func TestFailingFailsChosenMethods(t *testing.T) {
	tests := []struct {
		name string
		fail Op
	}{
		{"nothing", 0},
		{"store", OpStore},
		{"load", OpLoad},
		{"delete", OpDelete},
		{"exists", OpExists},
		{"list", OpList},
		{"lock", OpLock},
		{"unlock", OpUnlock},
		{"read-only", OpWrite},
		{"down", OpDown},
		{"all", OpAll},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFailing(t)
			f.Fail(tt.fail)
			if got := callAll(f); got != tt.fail {
				t.Fatalf("failed %v, want %v", got, tt.fail)
			}
		})
	}
}

func TestFailingErrorIsAnOutage(t *testing.T) {
	f := newFailing(t)
	f.Fail(OpLoad)
	_, err := f.Load(ctx, "r/k")
	if !errors.Is(err, ErrInjected) || IsNotExist(err) {
		t.Fatalf("Load = %v; want ErrInjected, not a missing key", err)
	}
	if !strings.Contains(err.Error(), `load "r/k"`) {
		t.Fatalf("the error %q does not say what failed", err)
	}
}

func TestFailingAdds(t *testing.T) {
	f := newFailing(t)
	f.Fail(OpStore)
	f.Fail(OpList)
	if got := callAll(f); got != OpStore|OpList {
		t.Fatalf("failed %v after two Fail calls", got)
	}
}

func TestFailingHealRestores(t *testing.T) {
	f := newFailing(t)
	f.Fail(OpAll)
	f.FailIf(func(Op, string) bool { return true })
	if f.Store(ctx, "k", nil) == nil {
		t.Fatal("Store succeeded while failing")
	}
	f.Heal()
	if err := f.Store(ctx, "k", nil); err != nil {
		t.Fatalf("Store after Heal: %v", err)
	}
}

func TestFailingIfMatches(t *testing.T) {
	f := newFailing(t)
	f.FailIf(func(op Op, key string) bool { return op == OpStore && strings.HasPrefix(key, "w/") })
	if err := f.Store(ctx, "w/k", nil); !errors.Is(err, ErrInjected) {
		t.Fatalf("Store under w/ = %v, want ErrInjected", err)
	}
	if err := f.Store(ctx, "x/k", nil); err != nil {
		t.Fatalf("Store under x/ = %v", err)
	}
	if _, err := f.Load(ctx, "r/k"); err != nil {
		t.Fatalf("Load = %v", err)
	}
	f.FailIf(nil)
	if err := f.Store(ctx, "w/k", nil); err != nil {
		t.Fatalf("Store after FailIf(nil) = %v", err)
	}
}

func TestFailingUnlockLeavesTheLockHeld(t *testing.T) {
	f := NewFailing(NewMemory())
	if err := f.Lock(ctx, "l"); err != nil {
		t.Fatal(err)
	}
	f.Fail(OpUnlock)
	if err := f.Unlock(ctx, "l"); !errors.Is(err, ErrInjected) {
		t.Fatalf("Unlock = %v", err)
	}
	c, cancel := context.WithCancel(ctx)
	cancel()
	if err := f.Lock(c, "l"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Lock after a failed Unlock = %v; want the lock still held", err)
	}
}

func TestOpString(t *testing.T) {
	tests := []struct {
		op   Op
		want string
	}{
		{0, "none"},
		{OpLoad, "load"},
		{OpWrite, "store|delete|lock"},
		{OpAll, "store|load|delete|exists|list|lock|unlock"},
	}
	for _, tt := range tests {
		if got := tt.op.String(); got != tt.want {
			t.Errorf("Op(%d).String() = %q, want %q", tt.op, got, tt.want)
		}
	}
}
