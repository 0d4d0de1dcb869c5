package caddyauth

import (
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gatehouse-dev/gatehouse/keys"
)

// swappable is a provider whose set a test replaces, as a ring's changes on rotation.
type swappable struct{ set atomic.Pointer[keys.Set] }

func newSwappable(t *testing.T, secret string) *swappable {
	s := new(swappable)
	s.swap(t, secret)
	return s
}

func (s *swappable) swap(t *testing.T, secret string) {
	t.Helper()
	k, err := keys.FromSecret([]byte(secret), "test")
	if err != nil {
		t.Fatal(err)
	}
	s.set.Store(keys.NewSet(k))
}

func (s *swappable) Current() *keys.Set { return s.set.Load() }

// TestIssuerRegistry follows the registry through registrations, a key change and
// unregistrations: Current holds exactly the registered keys and keeps its pointer while
// nothing changes.
func TestIssuerRegistry(t *testing.T) {
	r := newIssuerRegistry()
	empty := r.Current()
	if empty.Len() != 0 || r.Current() != empty || r.len() != 0 {
		t.Fatalf("empty registry: %d keys, stable %v", empty.Len(), r.Current() == empty)
	}

	a := newSwappable(t, testSecret)
	unA := r.register(a)
	if got := r.Current(); got != a.Current() {
		t.Fatal("one member: its own set is not returned as is")
	}

	b := newSwappable(t, strings.Repeat("b", 32))
	unB := r.register(b)
	both := r.Current()
	if both.Len() != 2 || r.len() != 2 {
		t.Fatalf("two members: %d keys, %d members", both.Len(), r.len())
	}
	if r.Current() != both {
		t.Fatal("Current changed its pointer while nothing changed")
	}

	a.swap(t, strings.Repeat("c", 32)) // a ring rotated
	rotated := r.Current()
	if rotated == both || rotated.Len() != 2 || rotated.Keys()[0] != a.Current().Keys()[0] {
		t.Fatal("a member's new set is not reflected")
	}

	unA()
	unA() // Cleanup may run twice
	if got := r.Current(); got != b.Current() || r.len() != 1 {
		t.Fatalf("after unregistering a: %d keys, %d members", got.Len(), r.len())
	}
	unB()
	if got := r.Current(); got.Len() != 0 || r.len() != 0 {
		t.Fatalf("after unregistering all: %d keys", got.Len())
	}
}

// TestIssuerRegistryConcurrent registers, reads and unregisters from many goroutines (run with
// -race): every read is a consistent set, and the registry ends empty.
func TestIssuerRegistryConcurrent(t *testing.T) {
	r := newIssuerRegistry()
	p := newSwappable(t, testSecret)
	done := make(chan struct{})
	for range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 100 {
				un := r.register(p)
				if n := r.Current().Len(); n < 1 {
					t.Errorf("a registered provider's key is missing (%d keys)", n)
				}
				un()
			}
		}()
	}
	for range 8 {
		<-done
	}
	if r.len() != 0 || r.Current().Len() != 0 {
		t.Fatalf("registry not empty: %d members", r.len())
	}
}

// BenchmarkIssuerRegistryCurrent is the per-request cost of a zero-config jwt_auth's key lookup
// with two issuers loaded (a merged set, cached).
func BenchmarkIssuerRegistryCurrent(b *testing.B) {
	r := newIssuerRegistry()
	for _, s := range []string{testSecret, strings.Repeat("b", 32)} {
		k, err := keys.FromSecret([]byte(s), "bench")
		if err != nil {
			b.Fatal(err)
		}
		r.register(keys.Static{Set: keys.NewSet(k)})
	}
	b.ReportAllocs()
	for b.Loop() {
		if r.Current().Len() != 2 {
			b.Fatal("keys missing")
		}
	}
}
