package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"time"

	"github.com/redis/go-redis/v9"
)

// Limiter allows at most n events per key in any window of per, counted in Redis for every
// instance together: a login storm spread over instances is limited as one. It is a GCRA, the
// token bucket of limit.Limiter in one number per key (the time at which the bucket is full
// again), kept with an expiry of at most per and read against the server's clock, so that the
// instances' clocks do not matter.
type Limiter struct {
	s        *Store
	base     string
	interval int64 // ms per event: per / n
	window   int64 // ms: per
}

// Limiter returns a limiter of n events per per for the issuer named issuer; name tells its
// limiters apart (e.g. "client_ip").
func (s *Store) Limiter(issuer, name string, n int, per time.Duration) *Limiter {
	n = max(n, 1)
	window := max(per.Milliseconds(), 1)
	return &Limiter{s: s, base: "issuer:" + issuer + ":limit:" + name + ":", interval: max(window/int64(n), 1), window: window}
}

// take counts one event (ARGV[3] = 1) or gives one back (ARGV[3] = -1) for KEYS[1]. ARGV[1] is
// the interval and ARGV[2] the window, in ms. It answers {allowed, retry-after ms}.
var take = redis.NewScript(`
local interval, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
if ARGV[3] == '-1' then
  tat = tat - interval
  if tat <= now then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], tat, 'PX', tat - now) end
  return {1, 0}
end
local next = tat + interval
if next - now > window then return {0, next - now - window} end
redis.call('SET', KEYS[1], next, 'PX', next - now)
return {1, 0}
`)

// key is the Redis key of a limiter key: hashed, so a username of any length or content makes
// a short, printable key.
func (l *Limiter) key(k string) string {
	sum := sha256.Sum256([]byte(k))
	return l.s.key(l.base + hex.EncodeToString(sum[:16]))
}

func (l *Limiter) run(ctx context.Context, key, op string) (ok bool, retryAfter time.Duration, err error) {
	res, err := take.Run(ctx, l.s.client, []string{l.key(key)}, l.interval, l.window, op).Int64Slice()
	if err = l.s.observe(err); err != nil {
		return false, 0, fmt.Errorf("login limit: redis: %w", err)
	}
	if len(res) != 2 {
		return false, 0, fmt.Errorf("login limit: redis answered %v", res)
	}
	if res[0] == 1 {
		return true, 0, nil
	}
	// Rounded up to a second, as limit.Limiter does, for Retry-After.
	return false, time.Duration(math.Ceil(float64(res[1])/1000)) * time.Second, nil
}

// Allow records one event for key and reports whether it is within the limit; when it is not,
// retryAfter says how long until one would be (a refused event does not count). An
// unreachable server is an error: the caller refuses the login (fail closed).
func (l *Limiter) Allow(ctx context.Context, key string) (ok bool, retryAfter time.Duration, err error) {
	return l.run(ctx, key, "1")
}

// Reserve is Allow for an event that may turn out not to count: refund gives it back, once
// (bounded by its own short timeout, as the request that reserved it may be gone).
func (l *Limiter) Reserve(ctx context.Context, key string) (refund func(), ok bool, retryAfter time.Duration, err error) {
	ok, retryAfter, err = l.run(ctx, key, "1")
	if err != nil || !ok {
		return func() {}, ok, retryAfter, err
	}
	done := false
	return func() {
		if done {
			return
		}
		done = true
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_, _, _ = l.run(rctx, key, "-1") // a refund lost to an outage only makes the limit stricter
	}, true, 0, nil
}
