package revoke

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/verify"
)

func TestPurge(t *testing.T) {
	entry := func(exp time.Time) string { return fmt.Sprintf(`{"exp":%d}`, exp.Unix()) }
	longAgo := entry(t0.Add(-48 * time.Hour))
	pastLeeway := entry(t0.Add(-verify.MaxLeeway - time.Second))
	inLeeway := entry(t0.Add(-verify.MaxLeeway + time.Second))
	atLeeway := entry(t0.Add(-verify.MaxLeeway))
	future := entry(t0.Add(time.Hour))
	tests := []struct {
		name    string
		entries map[string]string // key -> value
		deleted []string
	}{
		{"empty storage", nil, nil},
		{"expired in every kind", map[string]string{
			k("jti", "a"): longAgo, k("used", "b"): longAgo, k("family", "c"): pastLeeway,
		}, []string{k("jti", "a"), k("used", "b"), k("family", "c")}},
		{"within the longest leeway kept", map[string]string{
			k("jti", "a"): inLeeway, k("used", "b"): atLeeway, k("family", "c"): future,
		}, nil},
		{"only the expired go", map[string]string{
			k("jti", "a"): longAgo, k("jti", "b"): future, k("used", "c"): future, k("used", "d"): pastLeeway,
		}, []string{k("jti", "a"), k("used", "d")}},
		{"unreadable entries kept", map[string]string{
			k("jti", "a"): "garbage", k("used", "b"): `{}`, k("family", "c"): `{"exp":"soon"}`,
			k("family", "d"): longAgo,
		}, []string{k("family", "d")}},
		{"foreign keys left alone", map[string]string{
			k("jti", ".tmp123"): longAgo, prefix + "/other/x": longAgo, "elsewhere/jti/y": longAgo,
			k("jti", "z"): longAgo,
		}, []string{k("jti", "z")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			for key, v := range tt.entries {
				f.put(key, v)
			}
			n, err := f.store.Purge(ctx)
			if err != nil || n != len(tt.deleted) {
				t.Fatalf("Purge = %d, %v; want %d", n, err, len(tt.deleted))
			}
			var want []string
			for key := range tt.entries {
				if !slices.Contains(tt.deleted, key) {
					want = append(want, key)
				}
			}
			slices.Sort(want)
			if got := f.keys(); !slices.Equal(got, want) {
				t.Fatalf("left %q, want %q", got, want)
			}
		})
	}
}

// TestPurgeAfterRotation: the state of a rotation and a reuse goes once the family has
// expired, and not before.
func TestPurgeAfterRotation(t *testing.T) {
	f := newFixture(t)
	if err := f.store.Rotate(ctx, "j1", "f1", exp); err != nil {
		t.Fatal(err)
	}
	if err := f.store.Rotate(ctx, "j1", "f1", exp); err != ErrReused {
		t.Fatal(err)
	}
	if n, err := f.store.Purge(ctx); n != 0 || err != nil {
		t.Fatalf("Purge before exp = %d, %v", n, err)
	}
	f.now = exp.Add(verify.MaxLeeway + time.Second)
	if n, err := f.store.Purge(ctx); n != 2 || err != nil {
		t.Fatalf("Purge after exp = %d, %v; want 2", n, err)
	}
	if got := f.keys(); len(got) != 0 {
		t.Fatalf("left %q", got)
	}
}

func TestPurgeCancelled(t *testing.T) {
	f := newFixture(t)
	expiredEntry(f)
	c, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := f.store.Purge(c); !errors.Is(err, context.Canceled) {
		t.Fatalf("Purge = %v, want context.Canceled", err)
	}
	if got := f.keys(); len(got) != 1 {
		t.Fatalf("left %q", got)
	}
}
