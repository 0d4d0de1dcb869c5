package kv

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/caddyserver/certmagic"
)

var ctx = context.Background()

// fill stores each key with its own name as value.
func fill(t *testing.T, s Storage, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if err := s.Store(ctx, k, []byte(k)); err != nil {
			t.Fatalf("Store(%q): %v", k, err)
		}
	}
}

func TestMemoryZeroValueIsReady(t *testing.T) {
	var m Memory
	if _, err := m.Load(ctx, "a"); !IsNotExist(err) {
		t.Fatalf("Load on a zero Memory = %v, want a not-exist error", err)
	}
	if m.Exists(ctx, "a") {
		t.Fatal("Exists on a zero Memory = true")
	}
	if err := m.Lock(ctx, "l"); err != nil {
		t.Fatal(err)
	}
	if err := m.Unlock(ctx, "l"); err != nil {
		t.Fatal(err)
	}
	fill(t, &m, "a")
	if v, err := m.Load(ctx, "a"); err != nil || string(v) != "a" {
		t.Fatalf("Load = %q, %v", v, err)
	}
}

func TestMemoryStoreLoad(t *testing.T) {
	tests := []struct {
		name, store, load string
	}{
		{"same key", "a/b", "a/b"},
		{"doubled slash", "a//b", "a/b"},
		{"trailing slash", "a/b/", "a/b"},
		{"leading slash", "/a/b", "a/b"},
		{"dot segments", "a/./c/../b", "a/b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMemory()
			if err := m.Store(ctx, tt.store, []byte("v")); err != nil {
				t.Fatal(err)
			}
			v, err := m.Load(ctx, tt.load)
			if err != nil || string(v) != "v" {
				t.Fatalf("Load(%q) = %q, %v; want %q", tt.load, v, err, "v")
			}
		})
	}
}

func TestMemoryCopiesValues(t *testing.T) {
	m := NewMemory()
	in := []byte("abc")
	if err := m.Store(ctx, "k", in); err != nil {
		t.Fatal(err)
	}
	in[0] = 'X'
	out, _ := m.Load(ctx, "k")
	if string(out) != "abc" {
		t.Fatalf("the stored value changed with the caller's slice: %q", out)
	}
	out[0] = 'Y'
	again, _ := m.Load(ctx, "k")
	if string(again) != "abc" {
		t.Fatalf("the stored value changed with a loaded slice: %q", again)
	}
}

func TestMemoryStoreRefusesWhatAFileSystemRefuses(t *testing.T) {
	tests := []struct {
		name, key string
	}{
		{"root", ""},
		{"root as a slash", "/"},
		{"below a key", "f/x"},
		{"deep below a key", "f/x/y"},
		{"a directory", "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMemory()
			fill(t, m, "f", "a/b")
			if err := m.Store(ctx, tt.key, []byte("v")); err == nil {
				t.Fatalf("Store(%q) succeeded", tt.key)
			}
			if got, _ := m.List(ctx, "", true); !slices.Equal(got, []string{"a", "a/b", "f"}) {
				t.Fatalf("the refused Store changed the keys: %q", got)
			}
		})
	}
}

func TestMemoryDelete(t *testing.T) {
	tests := []struct {
		name, key string
		notExist  bool
		left      []string
	}{
		{"a key", "a/b/c", false, []string{"a", "a/b", "a/b/d", "a/e", "ab", "ab/x"}},
		{"a directory and all below", "a/b", false, []string{"a", "a/e", "ab", "ab/x"}},
		{"a top directory", "a", false, []string{"ab", "ab/x"}},
		{"not a prefix of a sibling", "a/b/c/", false, []string{"a", "a/b", "a/b/d", "a/e", "ab", "ab/x"}},
		{"missing key", "a/zz", true, []string{"a", "a/b", "a/b/c", "a/b/d", "a/e", "ab", "ab/x"}},
		{"missing below a key", "a/e/x", true, []string{"a", "a/b", "a/b/c", "a/b/d", "a/e", "ab", "ab/x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMemory()
			fill(t, m, "a/b/c", "a/b/d", "a/e", "ab/x")
			err := m.Delete(ctx, tt.key)
			if IsNotExist(err) != tt.notExist || (err != nil && !tt.notExist) {
				t.Fatalf("Delete(%q) = %v; want not-exist %v", tt.key, err, tt.notExist)
			}
			got, err := m.List(ctx, "", true)
			if err != nil || !slices.Equal(got, tt.left) {
				t.Fatalf("left %q, %v; want %q", got, err, tt.left)
			}
			// The directory bookkeeping follows: a deleted directory no longer exists.
			if !tt.notExist && m.Exists(ctx, tt.key) {
				t.Fatalf("Exists(%q) after Delete = true", tt.key)
			}
		})
	}
}

func TestMemoryDeletedDirectoryTakesAKeyAgain(t *testing.T) {
	m := NewMemory()
	fill(t, m, "a/b")
	if err := m.Delete(ctx, "a/b"); err != nil {
		t.Fatal(err)
	}
	if err := m.Store(ctx, "a", []byte("v")); err != nil {
		t.Fatalf("Store at an emptied directory: %v", err)
	}
}

func TestMemoryExists(t *testing.T) {
	m := NewMemory()
	fill(t, m, "a/b/c", "f")
	tests := []struct {
		key  string
		want bool
	}{
		{"a/b/c", true},
		{"a/b", true},
		{"a/b/", true},
		{"a", true},
		{"f", true},
		{"a/b/c/d", false},
		{"a/x", false},
		{"ab", false},
		{"fx", false},
	}
	for _, tt := range tests {
		if got := m.Exists(ctx, tt.key); got != tt.want {
			t.Errorf("Exists(%q) = %v, want %v", tt.key, got, tt.want)
		}
	}
}

// listCases are checked against Memory and against certmagic's FileStorage, whose semantics
// Memory follows.
var listKeys = []string{"a/b/c", "a/b/d", "a/e", "ab/x", "f", "g/h/i/j"}

var listCases = []struct {
	name, path string
	recursive  bool
	want       []string // nil with notExist
	notExist   bool
}{
	{"children", "a", false, []string{"a/b", "a/e"}, false},
	{"children with a trailing slash", "a/", false, []string{"a/b", "a/e"}, false},
	{"recursive", "a", true, []string{"a/b", "a/b/c", "a/b/d", "a/e"}, false},
	{"recursive lists every directory level", "g", true, []string{"g/h", "g/h/i", "g/h/i/j"}, false},
	{"deep children", "a/b", false, []string{"a/b/c", "a/b/d"}, false},
	{"a sibling sharing the prefix is not listed", "ab", false, []string{"ab/x"}, false},
	{"a key lists as empty", "f", false, []string{}, false},
	{"missing path", "zz", false, nil, true},
	{"missing path recursive", "a/zz", true, nil, true},
	{"a deeper directory with a trailing slash", "a/b/", false, []string{"a/b/c", "a/b/d"}, false},
}

func TestMemoryList(t *testing.T) {
	m := NewMemory()
	fill(t, m, listKeys...)
	for _, tt := range listCases {
		t.Run(tt.name, func(t *testing.T) {
			got, err := m.List(ctx, tt.path, tt.recursive)
			checkList(t, got, err, tt.want, tt.notExist)
		})
	}
	t.Run("root", func(t *testing.T) {
		got, err := m.List(ctx, "", false)
		checkList(t, got, err, []string{"a", "ab", "f", "g"}, false)
	})
	t.Run("cancelled", func(t *testing.T) {
		c, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := m.List(c, "a", true); !errors.Is(err, context.Canceled) {
			t.Fatalf("List with a cancelled context = %v", err)
		}
	})
}

// TestFileStorageListAgrees runs listCases against certmagic's FileStorage, showing that
// Memory's semantics are FileStorage's (sorted as the walk is).
func TestFileStorageListAgrees(t *testing.T) {
	fsys := &certmagic.FileStorage{Path: t.TempDir()}
	fill(t, fsys, listKeys...)
	for _, tt := range listCases {
		t.Run(tt.name, func(t *testing.T) {
			got, err := fsys.List(ctx, tt.path, tt.recursive)
			if got == nil && err == nil {
				got = []string{}
			}
			checkList(t, got, err, tt.want, tt.notExist)
		})
	}
}

func checkList(t *testing.T, got []string, err error, want []string, notExist bool) {
	t.Helper()
	if notExist {
		if !IsNotExist(err) {
			t.Fatalf("List = %q, %v; want a not-exist error", got, err)
		}
		return
	}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("List = %q, %v; want %q", got, err, want)
	}
}

func TestMemoryLockBlocksWhileHeld(t *testing.T) {
	m := NewMemory()
	if err := m.Lock(ctx, "l"); err != nil {
		t.Fatal(err)
	}
	// Held: a waiter gives up when its context is done.
	c, cancel := context.WithCancel(ctx)
	cancel()
	if err := m.Lock(c, "l"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Lock of a held lock with a cancelled context = %v", err)
	}
	// Other names are independent.
	if err := m.Lock(ctx, "other"); err != nil {
		t.Fatal(err)
	}
	got := make(chan error)
	go func() { got <- m.Lock(ctx, "l") }()
	if err := m.Unlock(ctx, "l"); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("the waiter: %v", err)
	}
	if err := m.Unlock(ctx, "l"); err != nil {
		t.Fatal(err)
	}
	if err := m.Unlock(ctx, "l"); err == nil {
		t.Fatal("Unlock of a lock nobody holds succeeded")
	}
}

// TestMemoryLockExcludes runs critical sections under one lock from many goroutines: the race
// detector and the counters see any overlap.
func TestMemoryLockExcludes(t *testing.T) {
	var m Memory
	const n = 64
	var inside, most atomic.Int32
	total := 0 // guarded by the Memory lock only
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if err := m.Lock(ctx, "l"); err != nil {
				t.Error(err)
				return
			}
			most.Store(max(most.Load(), inside.Add(1)))
			total++
			inside.Add(-1)
			if err := m.Unlock(ctx, "l"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if total != n || most.Load() != 1 {
		t.Fatalf("total %d (want %d), at most %d inside at once (want 1)", total, n, most.Load())
	}
}

func TestMemoryConcurrentUse(t *testing.T) {
	var m Memory
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			k := fmt.Sprintf("d/%d", i)
			for range 50 {
				fill(t, &m, k)
				if _, err := m.Load(ctx, k); err != nil {
					t.Error(err)
				}
				m.Exists(ctx, "d")
				if _, err := m.List(ctx, "d", true); err != nil {
					t.Error(err)
				}
				if err := m.Delete(ctx, k); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if m.Exists(ctx, "d") {
		t.Fatal("keys left behind")
	}
}
