package verify

import (
	"hash/maphash"
	"strings"
	"sync"

	"github.com/gatehouse-dev/gatehouse/keys"
	"github.com/gatehouse-dev/gatehouse/token"
)

// An access token is sent with every request of its short life, so the same string is verified
// again and again. The cache keeps the outcome of a full verification, keyed by the exact token
// string, so that a repeat costs a hash, a map lookup, a string compare and the time checks
// instead of a signature check and a JSON decode.
//
// What a hit still checks, because it can change while the token is cached:
//   - the clock: exp (and nbf/iat, should the clock step back) with the leeway, on every hit;
//   - the keys: an entry is only valid for the key set that verified it. When a key is removed
//     or rotated out, the provider's Current set changes, every entry of the old set misses and
//     is dropped, and the token is verified again against the new set, so a removed key's tokens
//     stop working at once.
//
// Everything else a verification checks (signature, alg, iss, aud, token_type, requirements,
// header-safe values) depends only on the token and the policy, which are fixed for a Verifier.
// Refused tokens are never cached, so a flood of invalid tokens cannot grow the cache.

// DefaultCacheSize is the number of verified tokens a Verifier keeps when Policy.CacheSize is 0.
// A token is at most MaxTokenSize bytes (8 KiB by default) and usually well under 1 KiB, so the
// default costs a few MiB with real tokens and is bounded at about 2 x 8 KiB per entry in the worst
// case (the token and its decoded claims).
const DefaultCacheSize = 10000

// cacheShards spreads entries over independently locked shards, so that concurrent requests on
// different cores rarely wait for each other. A power of two.
const cacheShards = 16

// tokenCache is a bounded map from token string to verified claims. Each shard evicts in
// insertion order (FIFO): cheaper than LRU on a hit, which must stay a read-only operation, and
// for tokens that all expire within minutes the oldest entry is also the nearest to expiry.
type tokenCache struct {
	seed   maphash.Seed
	shards [cacheShards]cacheShard
}

type cacheShard struct {
	mu sync.RWMutex
	// m is keyed by the token's hash; the entry holds the token itself, compared on a hit, so a
	// collision is a miss and never another token's claims.
	m map[uint64]*cacheEntry
	// order lists the keys of m in insertion order as a ring; next is the oldest slot.
	order []uint64
	next  int
	_     [64]byte // keeps shards on separate cache lines
}

// cacheEntry is one verified token.
type cacheEntry struct {
	raw    string
	claims *token.Claims
	set    *keys.Set // the key set the signature was verified with
	// The token is valid while notBefore <= now < notAfter (seconds, leeway applied).
	notBefore, notAfter float64
}

// newTokenCache returns a cache for at most size entries (rounded up to a multiple of the shard
// count), or nil when size is negative (caching off).
func newTokenCache(size int) *tokenCache {
	if size < 0 {
		return nil
	}
	if size == 0 {
		size = DefaultCacheSize
	}
	per := (size + cacheShards - 1) / cacheShards
	c := &tokenCache{seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].m = make(map[uint64]*cacheEntry)
		c.shards[i].order = make([]uint64, 0, per)
	}
	return c
}

// get returns the claims of raw when raw was verified with set and is valid at now. A stale
// entry (another key set, or expired) is removed.
func (c *tokenCache) get(raw string, set *keys.Set, now float64) (*token.Claims, bool) {
	h := maphash.String(c.seed, raw)
	s := &c.shards[h&(cacheShards-1)]
	s.mu.RLock()
	e := s.m[h]
	s.mu.RUnlock()
	if e == nil || e.raw != raw {
		return nil, false
	}
	if e.set != set || now >= e.notAfter || now < e.notBefore {
		s.mu.Lock()
		if s.m[h] == e {
			delete(s.m, h)
		}
		s.mu.Unlock()
		return nil, false
	}
	return e.claims, true
}

// put records that raw verified with set and has claims, valid for notBefore <= now < notAfter.
func (c *tokenCache) put(raw string, claims *token.Claims, set *keys.Set, notBefore, notAfter float64) {
	// raw may be a substring of a request header; the copy keeps that header's memory from being
	// held for the entry's lifetime.
	e := &cacheEntry{raw: strings.Clone(raw), claims: claims, set: set, notBefore: notBefore, notAfter: notAfter}
	h := maphash.String(c.seed, raw)
	s := &c.shards[h&(cacheShards-1)]
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[h]; ok {
		s.m[h] = e // a concurrent verification of the same token, or a collision: the latest wins
		return
	}
	if len(s.order) < cap(s.order) {
		s.order = append(s.order, h)
	} else {
		// Full: the oldest key gives its slot up. It may already be gone (expired, stale or
		// replaced), in which case the delete does nothing.
		delete(s.m, s.order[s.next])
		s.order[s.next] = h
		s.next = (s.next + 1) % len(s.order)
	}
	s.m[h] = e
}

// len returns the number of entries, for tests.
func (c *tokenCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
