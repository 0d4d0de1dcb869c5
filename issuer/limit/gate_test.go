package limit

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

func TestNewGateSize(t *testing.T) {
	tests := []struct {
		n, want int
	}{
		{1, 1}, {3, 3}, {0, max(1, runtime.GOMAXPROCS(0)/2)}, {-4, max(1, runtime.GOMAXPROCS(0)/2)},
	}
	for _, tt := range tests {
		if got := cap(NewGate(tt.n).places); got != tt.want {
			t.Errorf("NewGate(%d) holds %d, want %d", tt.n, got, tt.want)
		}
	}
}

// TestGateBound runs many callers through a Gate of 2: never more than 2 inside at once, and
// every one gets in eventually (run with -race).
func TestGateBound(t *testing.T) {
	g := NewGate(2)
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
			if err := g.Enter(context.Background()); err != nil {
				t.Error(err)
				return
			}
			n := inside.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			<-release
			inside.Add(-1)
			through.Add(1)
			g.Leave()
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
				if err := g.Enter(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			err := g.Enter(tt.ctx)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Enter = %v, want %v", err, tt.want)
			}
			if inside := len(g.places); inside != tt.wantInside {
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
	if err := g.Enter(context.Background()); err != nil {
		t.Fatal(err)
	}
	entered := make(chan error)
	go func() { entered <- g.Enter(context.Background()) }()
	select {
	case <-entered:
		t.Fatal("second caller entered a full gate")
	default:
	}
	g.Leave()
	if err := <-entered; err != nil {
		t.Fatal(err)
	}
	g.Leave()
}

func TestGateLeaveWithoutEnter(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Leave without Enter did not panic")
		}
	}()
	NewGate(1).Leave()
}
