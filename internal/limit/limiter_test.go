package limit

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is a hand-moved time source, so no test depends on the wall clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time               { return c.t }
func (c *clock) advance(d time.Duration)      { c.t = c.t.Add(d) }
func newClock() *clock                        { return &clock{t: time.Unix(1_700_000_000, 0)} }
func withClock(l *Limiter, c *clock) *Limiter { l.now = c.now; return l }

func TestLimiterAllow(t *testing.T) {
	type step struct {
		advance time.Duration
		key     string
		ok      bool
		retry   time.Duration
	}
	tests := []struct {
		name  string
		n     int
		per   time.Duration
		steps []step
	}{
		{"burst of n then refused", 3, time.Minute, []step{
			{0, "a", true, 0}, {0, "a", true, 0}, {0, "a", true, 0},
			{0, "a", false, 20 * time.Second}, // one token per 20s
		}},
		{"keys are independent", 1, time.Minute, []step{
			{0, "a", true, 0}, {0, "a", false, time.Minute},
			{0, "b", true, 0}, {0, "b", false, time.Minute},
		}},
		{"refills at n per window", 2, time.Minute, []step{
			{0, "a", true, 0}, {0, "a", true, 0}, {0, "a", false, 30 * time.Second},
			{29 * time.Second, "a", false, time.Second},
			{time.Second, "a", true, 0},
			{0, "a", false, 30 * time.Second},
			{time.Hour, "a", true, 0}, {0, "a", true, 0}, {0, "a", false, 30 * time.Second},
		}},
		{"retry after is rounded up to a second", 1, 1500 * time.Millisecond, []step{
			{0, "a", true, 0}, {0, "a", false, 2 * time.Second},
			{1400 * time.Millisecond, "a", false, time.Second},
		}},
		{"refused attempts do not count", 1, 10 * time.Second, []step{
			{0, "a", true, 0},
			{5 * time.Second, "a", false, 5 * time.Second},
			{0, "a", false, 5 * time.Second},
			{0, "a", false, 5 * time.Second},
			{5 * time.Second, "a", true, 0},
		}},
		{"out of range values still limit", 0, 0, []step{
			{0, "a", true, 0}, {0, "a", false, time.Second},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock()
			l := withClock(NewLimiter(tt.n, tt.per, 0), c)
			for i, s := range tt.steps {
				c.advance(s.advance)
				ok, retry := l.Allow(s.key)
				if ok != s.ok || retry != s.retry {
					t.Fatalf("step %d (%q): Allow = %v, %v; want %v, %v", i, s.key, ok, retry, s.ok, s.retry)
				}
			}
		})
	}
}

// TestLimiterBoundedKeys floods distinct keys: the Limiter keeps at most maxKeys, forgetting the
// key idle longest, and a key that was used recently keeps its (exhausted) budget.
func TestLimiterBoundedKeys(t *testing.T) {
	tests := []struct {
		name     string
		maxKeys  int
		flood    int
		wantKeys int
	}{
		{"below the bound", 10, 5, 6},
		{"far above the bound", 10, 10000, 10},
		{"bound of one", 1, 100, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock()
			l := withClock(NewLimiter(1, time.Hour, tt.maxKeys), c)
			if ok, _ := l.Allow("victim"); !ok {
				t.Fatal("first event refused")
			}
			for i := range tt.flood {
				l.Allow("flood-" + strconv.Itoa(i))
				if len(l.keys) > tt.maxKeys || l.idle.Len() != len(l.keys) {
					t.Fatalf("after %d keys: map %d, list %d; bound %d", i+1, len(l.keys), l.idle.Len(), tt.maxKeys)
				}
			}
			if len(l.keys) != tt.wantKeys {
				t.Fatalf("keys = %d, want %d", len(l.keys), tt.wantKeys)
			}
			_, remembered := l.keys["victim"]
			if want := tt.flood < tt.maxKeys; remembered != want {
				t.Fatalf("victim remembered = %v, want %v", remembered, want)
			}
		})
	}
}

// TestLimiterEvictsIdleLongest checks the order of forgetting: a key used again moves to the
// front and survives newer keys that then sat idle.
func TestLimiterEvictsIdleLongest(t *testing.T) {
	c := newClock()
	l := withClock(NewLimiter(1, time.Hour, 3), c)
	for _, k := range []string{"a", "b", "c"} {
		l.Allow(k)
	}
	l.Allow("a") // refused, but a is now the most recently used
	l.Allow("d") // forgets b, the idlest
	if _, ok := l.keys["b"]; ok {
		t.Fatal("b (idle longest) was kept")
	}
	for _, k := range []string{"a", "c", "d"} {
		if _, ok := l.keys[k]; !ok {
			t.Fatalf("%s was forgotten", k)
		}
	}
	if ok, _ := l.Allow("a"); ok {
		t.Fatal("a's exhausted budget was reset")
	}
}

// TestLimiterConcurrent lets many goroutines share one key while others churn distinct keys:
// exactly n events of the shared key are allowed in total (run with -race).
func TestLimiterConcurrent(t *testing.T) {
	c := newClock()
	l := withClock(NewLimiter(5, time.Hour, 0), c)
	var (
		wg      sync.WaitGroup
		allowed atomic.Int32
	)
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, _ := l.Allow("same"); ok {
				allowed.Add(1)
			}
			l.Allow("other-" + strconv.Itoa(i))
		}()
	}
	wg.Wait()
	if got := allowed.Load(); got != 5 {
		t.Fatalf("allowed %d, want 5", got)
	}
}

func BenchmarkLimiterAllow(b *testing.B) {
	b.Run("one key", func(b *testing.B) {
		l := NewLimiter(1<<30, time.Second, 0)
		b.ReportAllocs()
		for b.Loop() {
			l.Allow("203.0.113.7")
		}
	})
	b.Run("flood of distinct keys", func(b *testing.B) {
		l := NewLimiter(5, time.Minute, 1000)
		keys := make([]string, 4096)
		for i := range keys {
			keys[i] = "198.51.100." + strconv.Itoa(i)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			l.Allow(keys[i%len(keys)])
			i++
		}
	})
}

// TestLimiterRefund checks Reserve's refunds: a refunded event leaves the budget as it was, so
// that only events that are kept (wrong passwords) use it up; a refund counts once, never lifts
// the budget above n, and a refused Reserve has nothing to refund.
func TestLimiterRefund(t *testing.T) {
	c := newClock()
	l := withClock(NewLimiter(2, time.Minute, 0), c)
	for range 5 { // successes: each refunded, the budget stays whole
		f, ok, _ := l.Reserve("bob")
		if !ok {
			t.Fatal("a refunded budget ran out")
		}
		f.Do()
		f.Do() // once only
	}
	for range 2 {
		if _, ok, _ := l.Reserve("bob"); !ok {
			t.Fatal("a whole budget refused")
		}
	}
	f, ok, retry := l.Reserve("bob")
	if ok || retry != 30*time.Second {
		t.Fatalf("third kept event: %v, %v; want refused, 30s", ok, retry)
	}
	f.Do() // zero Refund: nothing
	if ok, _ := l.Allow("bob"); ok {
		t.Fatal("a zero Refund gave an event back")
	}
	// Refunding into a full bucket does not raise it above n.
	c.advance(time.Hour)
	f, _, _ = l.Reserve("carol")
	c.advance(time.Hour)
	f.Do()
	allowed := 0
	for range 4 {
		if ok, _ := l.Allow("carol"); ok {
			allowed++
		}
	}
	if allowed != 2 {
		t.Fatalf("after a late refund %d events allowed, want 2", allowed)
	}
}
