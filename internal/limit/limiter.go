package limit

import (
	"container/list"
	"context"
	"math"
	"sync"
	"time"
)

// defaultMaxKeys is the number of keys a Limiter remembers when NewLimiter is given 0.
const defaultMaxKeys = 100000

// Limiter allows at most n events per key in any window of length per (a token bucket of size n
// refilled at n/per), for up to maxKeys keys at once; the keys idle longest are forgotten first,
// so memory stays bounded whatever a flood of distinct keys does. Safe for concurrent use.
type Limiter struct {
	rate    float64 // tokens per second
	burst   float64
	maxKeys int
	now     func() time.Time // time.Now; tests move it by hand

	mu   sync.Mutex
	keys map[string]*list.Element // key -> its element of idle, whose Value is a *bucket
	idle *list.List               // front: used most recently; back: idle longest
}

// bucket is one key's token bucket. Its fields are guarded by the Limiter's mu.
type bucket struct {
	key    string
	tokens float64   // as of last
	last   time.Time // when tokens was computed
}

// NewLimiter returns a Limiter; n >= 1, per > 0, maxKeys >= 1 (0: a default of 100000).
// Values out of range are raised to the smallest allowed (n 1, per 1ns, maxKeys the default),
// so a Limiter always limits.
func NewLimiter(n int, per time.Duration, maxKeys int) *Limiter {
	n = max(n, 1)
	per = max(per, 1)
	if maxKeys <= 0 {
		maxKeys = defaultMaxKeys
	}
	return &Limiter{
		rate:    float64(n) / per.Seconds(),
		burst:   float64(n),
		maxKeys: maxKeys,
		now:     time.Now,
		keys:    make(map[string]*list.Element),
		idle:    list.New(),
	}
}

// Allow records one event for key and reports whether it is within the limit; when it is not,
// retryAfter is how long until an event for key would be allowed (rounded up to a second).
// A refused event does not count, so a client that keeps trying is told the same time as one
// that waits, and is let in as soon as that time has passed.
func (l *Limiter) Allow(key string) (ok bool, retryAfter time.Duration) {
	_, ok, retryAfter = l.Reserve(key)
	return ok, retryAfter
}

// Reserve is Allow for an event that may turn out not to count: when ok, the event is recorded
// and the returned Refund takes it back (a login whose password was right, or that was never
// checked), so that only the events that matter (wrong passwords) use up the budget.
func (l *Limiter) Reserve(key string) (refund Refund, ok bool, retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.bucket(key, now)
	if b.tokens >= 1 {
		b.tokens--
		return Refund{l: l, b: b}, true, 0
	}
	// Truncated to whole nanoseconds before rounding up, so that float error in a wait of
	// exactly n seconds does not make it n+1.
	wait := time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	return Refund{}, false, time.Duration(math.Ceil(wait.Seconds())) * time.Second
}

// Refund gives back the event of a Reserve. The zero Refund does nothing.
type Refund struct {
	l *Limiter
	b *bucket
}

// Do gives the event back, once however often it is called. A bucket forgotten in the meantime
// was as good as full, so refunding it changes nothing.
func (f *Refund) Do() {
	if f.b == nil {
		return
	}
	f.l.mu.Lock()
	defer f.l.mu.Unlock()
	f.l.refill(f.b, f.l.now())
	f.b.tokens = min(f.l.burst, f.b.tokens+1)
	f.b = nil
}

// bucket returns key's token bucket, refilled up to now and marked as used now. A new key gets
// a full bucket; when that makes more than maxKeys keys, the key idle longest is forgotten.
// Forgetting it loses the least: all buckets refill at the same rate, so the idlest is the
// closest to full, and a full bucket is the same as no bucket. The caller holds l.mu.
func (l *Limiter) bucket(key string, now time.Time) *bucket {
	if e, ok := l.keys[key]; ok {
		l.idle.MoveToFront(e)
		b := e.Value.(*bucket)
		l.refill(b, now)
		return b
	}
	if l.idle.Len() >= l.maxKeys {
		b := l.idle.Remove(l.idle.Back()).(*bucket)
		delete(l.keys, b.key)
	}
	b := &bucket{key: key, tokens: l.burst, last: now}
	l.keys[key] = l.idle.PushFront(b)
	return b
}

// refill adds the tokens earned since b.last, up to the burst. A clock that went back earns
// nothing (and is not a debt). The caller holds l.mu.
func (l *Limiter) refill(b *bucket, now time.Time) {
	if now.After(b.last) {
		b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
		b.last = now
	}
}

// Local is a Limiter as a limit shared by several instances is used (context and error): the
// issuer counts logins against either. Its answers never fail.
type Local struct{ *Limiter }

// Allow is Limiter.Allow.
func (l Local) Allow(_ context.Context, key string) (ok bool, retryAfter time.Duration, err error) {
	ok, retryAfter = l.Limiter.Allow(key)
	return ok, retryAfter, nil
}

// Reserve is Limiter.Reserve, with the Refund as a function.
func (l Local) Reserve(_ context.Context, key string) (refund func(), ok bool, retryAfter time.Duration, err error) {
	f, ok, retryAfter := l.Limiter.Reserve(key)
	return f.Do, ok, retryAfter, nil
}
