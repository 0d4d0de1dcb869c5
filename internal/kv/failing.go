package kv

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// ErrInjected is the failure a Failing storage reports. It is an outage, not a missing key:
// IsNotExist reports false for it.
var ErrInjected = errors.New("storage failure injected by kv.Failing")

// Op names Storage methods, as a set of bits.
type Op uint8

// The Storage methods a Failing storage can fail.
const (
	OpStore Op = 1 << iota
	OpLoad
	OpDelete
	OpExists
	OpList
	OpLock
	OpUnlock

	// OpWrite is every method that changes the storage or takes a lock: a read-only storage.
	OpWrite = OpStore | OpDelete | OpLock
	// OpDown is every method but Unlock: the storage is unreachable, yet locks taken before
	// the outage are still released, as a caller expects of its deferred Unlock.
	OpDown = OpStore | OpLoad | OpDelete | OpExists | OpList | OpLock
	// OpAll is every method.
	OpAll = OpDown | OpUnlock
)

var opNames = [...]string{"store", "load", "delete", "exists", "list", "lock", "unlock"}

// String returns the method names in op, e.g. "store|lock".
func (op Op) String() string {
	var names []string
	for i, n := range opNames {
		if op&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, "|")
}

// Failing wraps a Storage and fails chosen methods on demand, so that tests (of this module's
// packages and of its callers) can show that a storage outage is reported and fails closed. A
// failing method does not reach the wrapped Storage and returns an error wrapping ErrInjected;
// a failing Exists reports false, the answer that would be dangerous to trust.
//
// Safe for concurrent use; the failures can be changed while other goroutines use it.
type Failing struct {
	// Storage is the wrapped storage; set it before first use.
	Storage Storage

	mu    sync.RWMutex
	ops   Op
	match func(op Op, key string) bool
}

// NewFailing returns a Failing over s, failing nothing yet.
func NewFailing(s Storage) *Failing { return &Failing{Storage: s} }

// Fail makes the methods in ops fail from now on, in addition to those failing already.
func (f *Failing) Fail(ops Op) {
	f.mu.Lock()
	f.ops |= ops
	f.mu.Unlock()
}

// FailIf makes a method fail also when match(op, key) reports true (key is the lock name for
// Lock and Unlock, the path for List), e.g. to fail the writes under one prefix only. nil
// removes the condition.
func (f *Failing) FailIf(match func(op Op, key string) bool) {
	f.mu.Lock()
	f.match = match
	f.mu.Unlock()
}

// Heal makes every method succeed again (as far as the wrapped Storage does).
func (f *Failing) Heal() {
	f.mu.Lock()
	f.ops, f.match = 0, nil
	f.mu.Unlock()
}

// fail returns the injected error when op on key is to fail, else nil.
func (f *Failing) fail(op Op, key string) error {
	f.mu.RLock()
	ops, match := f.ops, f.match
	f.mu.RUnlock()
	if ops&op != 0 || (match != nil && match(op, key)) {
		return fmt.Errorf("%s %q: %w", op, key, ErrInjected)
	}
	return nil
}

// Store implements Storage.
func (f *Failing) Store(ctx context.Context, key string, value []byte) error {
	if err := f.fail(OpStore, key); err != nil {
		return err
	}
	return f.Storage.Store(ctx, key, value)
}

// Load implements Storage.
func (f *Failing) Load(ctx context.Context, key string) ([]byte, error) {
	if err := f.fail(OpLoad, key); err != nil {
		return nil, err
	}
	return f.Storage.Load(ctx, key)
}

// Delete implements Storage.
func (f *Failing) Delete(ctx context.Context, key string) error {
	if err := f.fail(OpDelete, key); err != nil {
		return err
	}
	return f.Storage.Delete(ctx, key)
}

// Exists implements Storage; it reports false while Exists fails.
func (f *Failing) Exists(ctx context.Context, key string) bool {
	return f.fail(OpExists, key) == nil && f.Storage.Exists(ctx, key)
}

// List implements Storage.
func (f *Failing) List(ctx context.Context, path string, recursive bool) ([]string, error) {
	if err := f.fail(OpList, path); err != nil {
		return nil, err
	}
	return f.Storage.List(ctx, path, recursive)
}

// Lock implements Storage.
func (f *Failing) Lock(ctx context.Context, name string) error {
	if err := f.fail(OpLock, name); err != nil {
		return err
	}
	return f.Storage.Lock(ctx, name)
}

// Unlock implements Storage. A failing Unlock leaves the lock held in the wrapped Storage, as
// a lost lock file stays behind.
func (f *Failing) Unlock(ctx context.Context, name string) error {
	if err := f.fail(OpUnlock, name); err != nil {
		return err
	}
	return f.Storage.Unlock(ctx, name)
}

// Interface checks.
var (
	_ Storage = (*Memory)(nil)
	_ Storage = (*Failing)(nil)
)
