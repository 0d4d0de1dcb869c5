package limit

import (
	"container/list"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// defaultMaxKeys is the number of keys a Limiter remembers when NewLimiter is given 0.
const defaultMaxKeys = 100000

// Limiter allows at most n events per key in any window of length per (a token bucket of size n
// refilled at n/per), for up to maxKeys keys at once; the keys idle longest are forgotten first,
// so memory stays bounded whatever a flood of distinct keys does. Safe for concurrent use.
type Limiter struct {
	limit   rate.Limit
	burst   int
	maxKeys int
	now     func() time.Time // time.Now; tests move it by hand

	mu   sync.Mutex
	keys map[string]*list.Element // key -> its element of idle, whose Value is a *bucket
	idle *list.List               // front: used most recently; back: idle longest
}

// bucket is one key's token bucket.
type bucket struct {
	key string
	lim *rate.Limiter
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
		limit:   rate.Limit(float64(n) / per.Seconds()),
		burst:   n,
		maxKeys: maxKeys,
		now:     time.Now,
		keys:    make(map[string]*list.Element),
		idle:    list.New(),
	}
}

// Allow records one event for key and reports whether it is within the limit; when it is not,
// retryAfter is how long until an event for key would be allowed (rounded up to a second).
func (l *Limiter) Allow(key string) (ok bool, retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	lim := l.bucket(key)
	r := lim.ReserveN(now, 1)
	wait := r.DelayFrom(now)
	if wait == 0 {
		return true, 0
	}
	// Over the limit: a refused event does not count, so a client that keeps trying is told
	// the same time as one that waits, and is let in as soon as that time has passed.
	r.CancelAt(now)
	return false, time.Duration(math.Ceil(wait.Seconds())) * time.Second
}

// bucket returns key's token bucket, marked as used now. A new key gets a full bucket; when
// that makes more than maxKeys keys, the key idle longest is forgotten. Forgetting it loses
// the least: all buckets refill at the same rate, so the idlest is the closest to full, and a
// full bucket is the same as no bucket. The caller holds l.mu.
func (l *Limiter) bucket(key string) *rate.Limiter {
	if e, ok := l.keys[key]; ok {
		l.idle.MoveToFront(e)
		return e.Value.(*bucket).lim
	}
	if l.idle.Len() >= l.maxKeys {
		b := l.idle.Remove(l.idle.Back()).(*bucket)
		delete(l.keys, b.key)
	}
	lim := rate.NewLimiter(l.limit, l.burst)
	l.keys[key] = l.idle.PushFront(&bucket{key: key, lim: lim})
	return lim
}
