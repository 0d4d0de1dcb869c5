package limit

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestNewGateSize(t *testing.T) {
	procs := max(1, runtime.GOMAXPROCS(0)/2)
	tests := []struct {
		size                 GateSize
		places, queue, share int
	}{
		{GateSize{Places: 1}, 1, 16, 8},
		{GateSize{Places: 3}, 3, 48, 24},
		{GateSize{}, procs, 16 * procs, 8 * procs},
		{GateSize{Places: -4}, procs, 16 * procs, 8 * procs},
		{GateSize{Places: 2, Queue: 1, PerKey: 7}, 2, 1, 7},
		{GateSize{Places: 2, Queue: 1}, 2, 1, 1},
	}
	for _, tt := range tests {
		g := NewSizedGate(tt.size)
		if g.places != tt.places || g.queue != tt.queue || g.perKey != tt.share {
			t.Errorf("NewSizedGate(%+v) = %d places, queue %d, share %d; want %d, %d, %d",
				tt.size, g.places, g.queue, g.perKey, tt.places, tt.queue, tt.share)
		}
	}
	if g := NewGate(3); g.places != 3 || g.queue != 48 {
		t.Errorf("NewGate(3) = %d places, queue %d", g.places, g.queue)
	}
}

// TestGateQueueBound fills a gate of one place and a queue of two: the next caller is refused
// at once with ErrQueueFull, and a place is free again for it once a waiting caller is through.
func TestGateQueueBound(t *testing.T) {
	g := NewSizedGate(GateSize{Places: 1, Queue: 2, PerKey: 10})
	if err := g.Enter(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	entered := make(chan error, 2)
	for _, k := range []string{"b", "c"} {
		go func() { entered <- g.Enter(context.Background(), k) }()
	}
	waitFor(t, func() bool { return g.queued() == 2 })
	for _, k := range []string{"d", ""} {
		if err := g.Enter(context.Background(), k); !errors.Is(err, ErrQueueFull) {
			t.Fatalf("Enter(%q) on a full queue = %v, want ErrQueueFull", k, err)
		}
	}
	g.Leave("a")
	if err := <-entered; err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return g.queued() == 1 })
	// One waits, one is inside: the queue has room for one more again.
	go func() { entered <- g.Enter(context.Background(), "d") }()
	waitFor(t, func() bool { return g.queued() == 2 })
	g.Leave("b") // whichever of b and c got in: both keys are counted the same way
	g.Leave("c")
	if err := <-entered; err != nil {
		t.Fatal(err)
	}
	if err := <-entered; err != nil {
		t.Fatal(err)
	}
	g.Leave("d")
	if len(g.held) != 0 || g.queued() != 0 || g.inside != 0 || len(g.queues) != 0 || len(g.ring) != 0 {
		t.Fatalf("after everyone left: held %v, queued %d, inside %d, queues %v", g.held, g.queued(), g.inside, g.queues)
	}
}

// TestGateShare checks the per-key share: a key with PerKey callers inside or waiting is
// refused at once with ErrShareExceeded while other keys still get in; a waiting caller whose
// request ends gives its share back; the empty key has no share.
func TestGateShare(t *testing.T) {
	g := NewSizedGate(GateSize{Places: 1, Queue: 10, PerKey: 2})
	if err := g.Enter(context.Background(), "10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	waited := make(chan error, 1)
	go func() { waited <- g.Enter(ctx, "10.0.0.1") }()
	waitFor(t, func() bool { return g.queued() == 1 })
	if err := g.Enter(context.Background(), "10.0.0.1"); !errors.Is(err, ErrShareExceeded) {
		t.Fatalf("third caller of one key = %v, want ErrShareExceeded", err)
	}
	other := make(chan error, 1)
	go func() { other <- g.Enter(context.Background(), "10.0.0.2") }()
	waitFor(t, func() bool { return g.queued() == 2 })
	cancel()
	if err := <-waited; !errors.Is(err, context.Canceled) {
		t.Fatalf("waiting caller whose request ended = %v, want context.Canceled", err)
	}
	// Its share is back: the key may queue again.
	again := make(chan error, 1)
	go func() { again <- g.Enter(context.Background(), "10.0.0.1") }()
	waitFor(t, func() bool { return g.queued() == 2 })
	// Keyless callers have no share, only the queue.
	for range 3 {
		go func() { _ = g.Enter(context.Background(), "") }()
	}
	waitFor(t, func() bool { return g.queued() == 5 })
	if n := g.heldBy("10.0.0.1"); n != 2 {
		t.Fatalf("10.0.0.1 holds %d, want 2", n)
	}
	if n := g.heldBy(""); n != 0 {
		t.Fatalf("the empty key holds %d, want 0 (not counted)", n)
	}
	g.Leave("10.0.0.1")
	if err := <-other; err != nil { // first in line
		t.Fatal(err)
	}
	if n := g.heldBy("10.0.0.1"); n != 1 {
		t.Fatalf("after one left, 10.0.0.1 holds %d, want 1", n)
	}
}

func (g *Gate) queued() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.waiting
}

func (g *Gate) heldBy(key string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.held[key]
}

// waitFor polls cond (state another goroutine is about to reach) for up to 5 seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 5000 {
		if cond() {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("condition not reached within 5s")
}

func TestClientContext(t *testing.T) {
	if c := Client(context.Background()); c != "" {
		t.Fatalf("Client of a bare context = %q", c)
	}
	if c := Client(WithClient(context.Background(), "192.0.2.1")); c != "192.0.2.1" {
		t.Fatalf("Client = %q", c)
	}
}

// TestGateBound runs many callers through a Gate of 2: never more than 2 inside at once, and
// every one gets in eventually (run with -race).
func TestGateBound(t *testing.T) {
	g := NewSizedGate(GateSize{Places: 2, Queue: 32})
	var (
		wg           sync.WaitGroup
		inside, peak atomic.Int32
		through      atomic.Int32
		release      = make(chan struct{})
	)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := g.Enter(context.Background(), ""); err != nil {
				t.Error(err)
				return
			}
			n := inside.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			<-release
			inside.Add(-1)
			through.Add(1)
			g.Leave("")
		}()
	}
	close(release)
	wg.Wait()
	if p := peak.Load(); p > 2 || p < 1 {
		t.Fatalf("peak inside = %d, want 1..2", p)
	}
	if n := through.Load(); n != 32 {
		t.Fatalf("%d callers got through, want 32", n)
	}
}

func TestGateEnterContext(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name       string
		full       bool
		ctx        context.Context
		want       error
		wantInside int
	}{
		{"free place", false, context.Background(), nil, 1},
		{"free place but request gone", false, canceled, context.Canceled, 0},
		{"full, request gone", true, canceled, context.Canceled, 1},
		{"full, request ends while waiting", true, &endsWhileWaiting{Context: context.Background()}, context.Canceled, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewGate(1)
			if tt.full {
				if err := g.Enter(context.Background(), ""); err != nil {
					t.Fatal(err)
				}
			}
			err := g.Enter(tt.ctx, "")
			if !errors.Is(err, tt.want) {
				t.Fatalf("Enter = %v, want %v", err, tt.want)
			}
			if inside := g.inside; inside != tt.wantInside {
				t.Fatalf("%d inside, want %d", inside, tt.wantInside)
			}
		})
	}
}

// endsWhileWaiting is a context that is still live when Enter first looks, and done by the time
// Enter waits: it proves a waiting caller leaves when its request ends, without a timer.
type endsWhileWaiting struct {
	context.Context
	seen atomic.Bool
}

var closedDone = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (*endsWhileWaiting) Done() <-chan struct{} { return closedDone }
func (c *endsWhileWaiting) Err() error {
	// Enter calls Err before waiting (nil: go on) and after Done fires (the reason).
	if !c.seen.Swap(true) {
		return nil
	}
	return context.Canceled
}

// TestGateWaitsForLeave blocks a second caller until the first leaves.
func TestGateWaitsForLeave(t *testing.T) {
	g := NewGate(1)
	if err := g.Enter(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	entered := make(chan error)
	go func() { entered <- g.Enter(context.Background(), "") }()
	select {
	case <-entered:
		t.Fatal("second caller entered a full gate")
	default:
	}
	g.Leave("")
	if err := <-entered; err != nil {
		t.Fatal(err)
	}
	g.Leave("")
}

func TestGateLeaveWithoutEnter(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Leave without Enter did not panic")
		}
	}()
	NewGate(1).Leave("")
}

// TestGateTakesTurns: freed places go round the keys that have callers waiting, so one
// client's queue of logins delays another client's login by one comparison, not by all of its
// own (before, the gate served callers in arrival order: ten logins of one address made a
// login of another wait for all ten). Each key's callers keep their order.
func TestGateTakesTurns(t *testing.T) {
	g := NewSizedGate(GateSize{Places: 1, Queue: 10, PerKey: 10})
	if err := g.Enter(context.Background(), "A"); err != nil {
		t.Fatal(err)
	}
	got := make(chan string)
	leave := make(map[string]chan struct{})
	for i, name := range []string{"A1", "A2", "A3", "B1", "A4", "C1", "B2"} {
		key := name[:1]
		leave[name] = make(chan struct{})
		go func() {
			if err := g.Enter(context.Background(), key); err != nil {
				t.Error(err)
				return
			}
			got <- name
			<-leave[name]
			g.Leave(key)
		}()
		waitFor(t, func() bool { return g.queued() == i+1 })
	}
	g.Leave("A")
	var order []string
	for range 7 {
		name := <-got
		order = append(order, name)
		close(leave[name])
	}
	// Turns: A (first to wait), B, C, then round again; A's own callers in order.
	if want := "A1 B1 C1 A2 B2 A3 A4"; strings.Join(order, " ") != want {
		t.Fatalf("places went to %v, want %s", order, want)
	}
}
