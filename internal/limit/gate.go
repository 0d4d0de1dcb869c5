package limit

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"sync"
	"time"
)

// Refusals of Gate.Enter. Both come at once, before any work, so that a flood costs the server
// nothing but the refusal; BusyRetry is what to tell the client.
var (
	// ErrQueueFull: every place is taken and the queue of waiting callers is full (503).
	ErrQueueFull = errors.New("limit: the login queue is full")
	// ErrShareExceeded: the caller's key (its client address) already has its share of the
	// places and the queue (429).
	ErrShareExceeded = errors.New("limit: too many logins of this client at once")
)

// BusyRetry is the Retry-After of a refusal by the Gate: about one hash comparison, after which
// a place or the caller's share is usually free again.
const BusyRetry = time.Second

// GateSize bounds a Gate.
type GateSize struct {
	// Places is how many callers are inside at once; <= 0 means max(1, GOMAXPROCS/2).
	Places int
	// Queue is how many more may wait for a place; <= 0 means 16 x Places. A caller finding the
	// queue full gets ErrQueueFull, so a wait is at most about Queue/Places comparisons long,
	// and much less for a client that has few callers waiting (places go round the clients).
	Queue int
	// PerKey is how many callers of one key may be inside or waiting together; <= 0 means
	// half the queue, so that no one client address can fill it.
	PerKey int
}

// Gate bounds how many callers are inside at once (password hash comparisons, which are made to
// be slow), so that a login flood leaves cores for other traffic; how many wait, so that a
// login never waits long; and how many of those a single key (a client address) holds. A freed
// place goes to the keys with callers waiting in turn, each key's callers in order, so that a
// client with many logins waiting delays another client's login by about one comparison, not
// by all of its own. Safe for concurrent use.
type Gate struct {
	places, queue, perKey int

	mu      sync.Mutex
	inside  int                  // callers holding a place
	waiting int                  // callers waiting for one
	held    map[string]int       // key -> its callers inside or waiting; only keys with some
	queues  map[string][]*waiter // key -> its waiting callers, in order; only keys with some
	ring    []string             // the keys of queues, in the order their turns come
	turn    int                  // index in ring of the key whose turn is next
}

// waiter is a caller waiting for a place. ready is closed when the place is handed to it.
type waiter struct {
	key     string
	ready   chan struct{}
	granted bool // guarded by Gate.mu
}

// NewGate returns a Gate for n callers at once (n <= 0: max(1, GOMAXPROCS/2)), with the default
// queue and per-key share of GateSize.
func NewGate(n int) *Gate { return NewSizedGate(GateSize{Places: n}) }

// NewSizedGate returns a Gate of size s, its zero fields set to their defaults.
func NewSizedGate(s GateSize) *Gate {
	if s.Places <= 0 {
		s.Places = max(1, runtime.GOMAXPROCS(0)/2)
	}
	if s.Queue <= 0 {
		s.Queue = 16 * s.Places
	}
	if s.PerKey <= 0 {
		s.PerKey = max(1, s.Queue/2)
	}
	return &Gate{places: s.Places, queue: s.Queue, perKey: s.PerKey,
		held: make(map[string]int), queues: make(map[string][]*waiter)}
}

// Enter takes a place for a caller of key, waiting for one if the queue has room. It returns
// ErrShareExceeded when key already holds its share, ErrQueueFull when the queue is full, or
// ctx's error when ctx ends first. The empty key has no share (only the queue bounds it): it is
// for callers that know no client. Every nil Enter is followed by one Leave with the same key.
func (g *Gate) Enter(ctx context.Context, key string) error {
	// A caller whose request is already gone never takes a place, even a free one.
	if err := ctx.Err(); err != nil {
		return err
	}
	g.mu.Lock()
	switch {
	case key != "" && g.held[key] >= g.perKey:
		g.mu.Unlock()
		return ErrShareExceeded
	case g.inside < g.places: // then nobody waits: Leave hands places to waiters
		g.inside++
		g.hold(key)
		g.mu.Unlock()
		return nil
	case g.waiting >= g.queue:
		g.mu.Unlock()
		return ErrQueueFull
	}
	w := &waiter{key: key, ready: make(chan struct{})}
	if len(g.queues[key]) == 0 {
		g.ring = append(g.ring, key)
	}
	g.queues[key] = append(g.queues[key], w)
	g.waiting++
	g.hold(key)
	g.mu.Unlock()

	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
	}
	g.mu.Lock()
	if w.granted {
		// The place came as the request ended: pass it on.
		g.mu.Unlock()
		g.Leave(key)
		return ctx.Err()
	}
	g.unqueue(w)
	g.waiting--
	g.release(key)
	g.mu.Unlock()
	return ctx.Err()
}

// Leave gives back the place a caller of key took: to the next key's first waiting caller, or
// free.
func (g *Gate) Leave(key string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.inside == 0 {
		// Like sync.Mutex's Unlock of an unlocked mutex: a bug in the caller, which would
		// otherwise let more callers in than the bound.
		panic("limit: Gate.Leave without a matching Enter")
	}
	g.release(key)
	if w := g.next(); w != nil {
		w.granted = true
		g.waiting--
		close(w.ready)
		return
	}
	g.inside--
}

// next takes the first waiting caller of the key whose turn it is, and moves the turn on; nil
// when nobody waits. The caller holds g.mu.
func (g *Gate) next() *waiter {
	if len(g.ring) == 0 {
		return nil
	}
	if g.turn >= len(g.ring) {
		g.turn = 0
	}
	key := g.ring[g.turn]
	q := g.queues[key]
	w := q[0]
	if len(q) == 1 {
		delete(g.queues, key)
		g.ring = slices.Delete(g.ring, g.turn, g.turn+1) // the turn now points at the next key
	} else {
		g.queues[key] = q[1:]
		g.turn++
	}
	return w
}

// unqueue removes a waiter that gave up. The caller holds g.mu.
func (g *Gate) unqueue(w *waiter) {
	q := g.queues[w.key]
	i := slices.Index(q, w)
	if i < 0 {
		return
	}
	q = slices.Delete(q, i, i+1)
	if len(q) > 0 {
		g.queues[w.key] = q
		return
	}
	delete(g.queues, w.key)
	if r := slices.Index(g.ring, w.key); r >= 0 {
		g.ring = slices.Delete(g.ring, r, r+1)
		if r < g.turn {
			g.turn--
		}
	}
}

// hold counts a caller of key; the caller holds g.mu.
func (g *Gate) hold(key string) {
	if key != "" {
		g.held[key]++
	}
}

// release uncounts a caller of key; the caller holds g.mu.
func (g *Gate) release(key string) {
	if key == "" {
		return
	}
	if n := g.held[key] - 1; n > 0 {
		g.held[key] = n
	} else {
		delete(g.held, key)
	}
}

// clientKey is the context key of WithClient.
type clientKey struct{}

// WithClient returns ctx carrying the client a login is for (its address), which password
// checks deep in the call pass to Gate.Enter as the key, without every interface between
// having to carry it.
func WithClient(ctx context.Context, client string) context.Context {
	return context.WithValue(ctx, clientKey{}, client)
}

// Client returns the client WithClient put in ctx, or "".
func Client(ctx context.Context) string {
	c, _ := ctx.Value(clientKey{}).(string)
	return c
}
