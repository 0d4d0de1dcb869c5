package revoke

import (
	"context"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/gatehouse-dev/gatehouse/internal/kv"
)

const prefix = "gatehouse/issuer/revoke"

var (
	ctx = context.Background()
	// t0 is the fixed clock of every test; exp is a token expiry after it.
	t0  = time.Unix(1_800_000_000, 0)
	exp = t0.Add(24 * time.Hour)
)

// fixture is a Store over a Memory that can be made to fail, with a fixed clock and observed
// logs.
type fixture struct {
	t       *testing.T
	mem     *kv.Memory
	storage *kv.Failing
	store   *Store
	logs    *observer.ObservedLogs
	now     time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, mem: kv.NewMemory(), now: t0}
	f.storage = kv.NewFailing(f.mem)
	f.store, f.logs = f.newStore(f.storage)
	return f
}

// newStore returns another Store over s with f's clock: another process, when s is shared.
func (f *fixture) newStore(s kv.Storage) (*Store, *observer.ObservedLogs) {
	f.t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	st, err := New(Config{Storage: s, Prefix: prefix, Now: func() time.Time { return f.now }, Logger: zap.New(core)})
	if err != nil {
		f.t.Fatal(err)
	}
	return st, logs
}

// keys returns every key stored (not directories), sorted.
func (f *fixture) keys() []string {
	f.t.Helper()
	all, err := f.mem.List(ctx, "", true)
	if kv.IsNotExist(err) {
		return nil
	}
	if err != nil {
		f.t.Fatal(err)
	}
	var out []string
	for _, k := range all {
		if _, err := f.mem.Load(ctx, k); err == nil {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// value returns the value stored at key ("" when missing).
func (f *fixture) value(key string) string {
	f.t.Helper()
	v, err := f.mem.Load(ctx, key)
	if kv.IsNotExist(err) {
		return ""
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return string(v)
}

// put stores a raw value at key, bypassing the Store.
func (f *fixture) put(key, value string) {
	f.t.Helper()
	if err := f.mem.Store(ctx, key, []byte(value)); err != nil {
		f.t.Fatal(err)
	}
}

func k(dir, id string) string { return prefix + "/" + dir + "/" + id }
