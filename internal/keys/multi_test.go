package keys

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
)

// swappable is a Provider whose set the test replaces, and a Refresher that counts calls.
type swappable struct {
	set       atomic.Pointer[Set]
	refreshes atomic.Int32
	result    bool
}

func (s *swappable) Current() *Set { return s.set.Load() }

func (s *swappable) RefreshFor(ctx context.Context, kid string) bool {
	s.refreshes.Add(1)
	return s.result
}

func TestMultiCurrent(t *testing.T) {
	k1, k2, k3 := &Key{ID: "1"}, &Key{ID: "2"}, &Key{ID: "3"}
	remote := new(swappable)
	static := Static{NewSet(k1, k2)}
	m := NewMulti(static, nil, remote)

	// Only the static keys so far: their set is used as is.
	if got := m.Current(); got != static.Set {
		t.Fatalf("Current = %v, want the static set itself", got.Keys())
	}
	// The remote set appears: a merged set, then the same pointer while nothing changes.
	remote.set.Store(NewSet(k3))
	merged := m.Current()
	if got := merged.Keys(); len(got) != 3 || got[0] != k1 || got[1] != k2 || got[2] != k3 {
		t.Fatalf("merged keys = %v", got)
	}
	if m.Current() != merged {
		t.Error("Current rebuilt an unchanged set")
	}
	if n := testing.AllocsPerRun(100, func() { _ = m.Current() }); n != 0 {
		t.Errorf("Current allocates %v times in the steady state", n)
	}
	// The remote set is replaced: the merged set follows.
	k4 := &Key{ID: "4"}
	remote.set.Store(NewSet(k4))
	if got := m.Current().Keys(); len(got) != 3 || got[2] != k4 {
		t.Fatalf("after a remote change, keys = %v", got)
	}
}

func TestMultiEmpty(t *testing.T) {
	for name, m := range map[string]*Multi{
		"no providers":     NewMulti(),
		"empty providers":  NewMulti(Static{}, Static{NewSet()}, new(swappable)),
		"one empty remote": NewMulti(new(swappable)),
	} {
		if s := m.Current(); s.Len() != 0 {
			t.Errorf("%s: Current has %d keys", name, s.Len())
		}
	}
}

// Concurrent readers while a member changes: the race detector checks the cache.
func TestMultiConcurrent(t *testing.T) {
	remote := new(swappable)
	m := NewMulti(Static{NewSet(&Key{ID: "s"})}, remote)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 200 {
				if i == 0 && j%10 == 0 {
					remote.set.Store(NewSet(&Key{ID: "r"}))
				}
				if s := m.Current(); s.Len() < 1 || s.Keys()[0].ID != "s" {
					t.Errorf("merged set lost the static key: %d keys", s.Len())
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestMultiRefreshFor(t *testing.T) {
	yes, no := &swappable{result: true}, &swappable{}
	tests := []struct {
		name    string
		members []Provider
		want    bool
	}{
		{"no refreshers", []Provider{Static{NewSet()}}, false},
		{"one that loads", []Provider{Static{}, yes}, true},
		{"one that does not", []Provider{no}, false},
		{"either loads", []Provider{no, yes}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			yes.refreshes.Store(0)
			no.refreshes.Store(0)
			if got := NewMulti(tt.members...).RefreshFor(context.Background(), "kid"); got != tt.want {
				t.Errorf("RefreshFor = %v, want %v", got, tt.want)
			}
			for _, p := range tt.members {
				if s, ok := p.(*swappable); ok && s.refreshes.Load() != 1 {
					t.Errorf("a refresher was asked %d times, want 1", s.refreshes.Load())
				}
			}
		})
	}
}
