package limit

import (
	"context"
	"runtime"
)

// Gate bounds how many callers are inside at once (password hash comparisons, which are made to
// be slow), so that a login flood leaves cores for other traffic. Safe for concurrent use.
type Gate struct {
	// places holds one value per caller inside; its capacity is the bound.
	places chan struct{}
}

// NewGate returns a Gate for n callers at once; n <= 0 means max(1, GOMAXPROCS/2).
func NewGate(n int) *Gate {
	if n <= 0 {
		n = max(1, runtime.GOMAXPROCS(0)/2)
	}
	return &Gate{places: make(chan struct{}, n)}
}

// Enter waits for a place, or returns ctx's error when ctx ends first.
func (g *Gate) Enter(ctx context.Context) error {
	// A caller whose request is already gone never takes a place, even a free one (select
	// would pick at random between a free place and a done ctx).
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case g.places <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Leave gives the place back; every successful Enter is followed by one Leave.
func (g *Gate) Leave() {
	select {
	case <-g.places:
	default:
		// Like sync.Mutex's Unlock of an unlocked mutex: a bug in the caller, which would
		// otherwise let more callers in than the bound.
		panic("limit: Gate.Leave without a matching Enter")
	}
}
