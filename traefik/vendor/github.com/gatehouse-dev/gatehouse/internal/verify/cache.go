package verify

import (
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gatehouse-dev/gatehouse/internal/keys"
	"github.com/gatehouse-dev/gatehouse/internal/token"
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
//
// Which tokens are kept: until a shard has filled up once, every verified token; from then on, a
// token only when it is verified a second time within the shard's last capacity-many first
// sightings (a "doorkeeper", as in TinyLFU). A token sent once, as by a client that mints one per
// request or by many users each seen once, then costs a slot in a small array of hashes instead
// of a copy of the token, an entry and two map updates, and cannot push out the tokens that are
// being sent again and again. Either way, each verification that is not a hit moves the FIFO
// hand one slot on and evicts the entry there, so that an entry still lives for at most capacity
// verifications of its shard, as with plain FIFO.

// DefaultCacheSize is the number of verified tokens a Verifier keeps when Policy.CacheSize is 0.
// A token is at most MaxTokenSize bytes (8 KiB by default) and usually well under 1 KiB, so the
// default costs a few MiB with real tokens and is bounded at about 2 x 8 KiB per entry in the worst
// case (the token and its decoded claims). The doorkeeper adds at most 32 bytes per entry
// (256 KiB for the default), in arrays without pointers, which the garbage collector skips.
const DefaultCacheSize = 10000

// cacheShards spreads entries over independently locked shards, so that concurrent requests on
// different cores rarely wait for each other. The low cacheShardBits bits of a token's hash pick
// its shard.
const (
	cacheShardBits = 4
	cacheShards    = 1 << cacheShardBits
)

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
	// order lists the keys of m in insertion order as a ring; next is the oldest slot. A slot
	// whose entry has left (evicted without a replacement, stale, or expired) keeps its old key,
	// which the slot check in evict tells apart from a later entry with the same key.
	order []uint64
	next  int
	// seen is the doorkeeper, allocated when the ring first fills: the hashes of tokens verified
	// but not admitted, see seenBefore.
	seen      []uint64
	sightings uint32 // tokens recorded in seen so far, modulo 2^32
	// hits and misses count the lookups of this shard, for CacheStats: one counter per shard,
	// in the shard's own cache line, so counting adds no contention between cores.
	hits, misses atomic.Uint64
	_            [64]byte // keeps shards on separate cache lines
}

// cacheEntry is one verified token.
type cacheEntry struct {
	raw    string
	claims *token.Claims
	set    *keys.Set // the key set the signature was verified with
	// The token is valid while notBefore <= now < notAfter (seconds, leeway applied).
	notBefore, notAfter float64
	slot                int // the entry's index in its shard's order
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

// hash is the key of raw; it also picks the shard (low bits) and the doorkeeper slot (the bits
// above them).
func (c *tokenCache) hash(raw string) uint64 {
	return maphash.String(c.seed, raw)
}

func (c *tokenCache) shard(h uint64) *cacheShard {
	return &c.shards[h&(cacheShards-1)]
}

// lookup returns the claims of raw, whose hash is h, when raw was verified with set and is
// valid at now. A stale entry (another key set, or expired) is removed.
func (c *tokenCache) lookup(h uint64, raw string, set *keys.Set, now float64) (*token.Claims, bool) {
	s := c.shard(h)
	s.mu.RLock()
	e := s.m[h]
	s.mu.RUnlock()
	if e == nil || e.raw != raw {
		s.misses.Add(1)
		return nil, false
	}
	if e.set != set || now >= e.notAfter || now < e.notBefore {
		s.mu.Lock()
		if s.m[h] == e {
			delete(s.m, h)
		}
		s.mu.Unlock()
		s.misses.Add(1)
		return nil, false
	}
	s.hits.Add(1)
	return e.claims, true
}

// add records that raw, whose hash is h, verified with set and has claims, valid for
// notBefore <= now < notAfter, when the admission rule above lets it in. The caller hashes raw
// once for lookup and add.
func (c *tokenCache) add(h uint64, raw string, claims *token.Claims, set *keys.Set, notBefore, notAfter float64) {
	s := c.shard(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	entry := func(slot int) *cacheEntry {
		// raw may be a substring of a request header; the copy keeps that header's memory from
		// being held for the entry's lifetime.
		return &cacheEntry{raw: strings.Clone(raw), claims: claims, set: set, notBefore: notBefore, notAfter: notAfter, slot: slot}
	}
	if old, ok := s.m[h]; ok {
		// A concurrent verification of the same token, or a collision: the latest wins, in the
		// same slot.
		s.m[h] = entry(old.slot)
		return
	}
	if len(s.order) < cap(s.order) {
		s.order = append(s.order, h)
		s.m[h] = entry(len(s.order) - 1)
		return
	}
	// Full: the oldest slot is given up, whether or not raw takes it.
	slot := s.next
	s.evict(slot)
	s.next = (slot + 1) % len(s.order)
	if s.seenBefore(h) {
		s.order[slot] = h
		s.m[h] = entry(slot)
	}
}

// evict removes the entry that was stored in slot, if it is still there.
func (s *cacheShard) evict(slot int) {
	h := s.order[slot]
	if e, ok := s.m[h]; ok && e.slot == slot {
		delete(s.m, h)
	}
}

// seenWays is the doorkeeper's associativity: a hash may sit in either of two adjacent slots
// (one cache line), so that two tokens rarely push each other out before their second sighting.
const seenWays = 2

// seenBefore reports whether the token with hash h was recorded among the shard's last
// cap(order) first sightings; if not, it records it. A recorded hash is the high 32 bits of h
// and the sighting's number in the low 32, so that an old record expires without being cleared.
// A false "seen" (two tokens alike in those bits and the slot bits) only admits a token that has
// been fully verified, as before the doorkeeper, so 32 bits are plenty.
func (s *cacheShard) seenBefore(h uint64) bool {
	window := uint32(cap(s.order))
	if s.seen == nil {
		// Twice the window, rounded up to a power of two: few records are pushed out early.
		n := seenWays
		for n < 2*cap(s.order) {
			n <<= 1
		}
		s.seen = make([]uint64, n)
	}
	const low = 1<<32 - 1
	tag := h &^ low
	// The low bits of h chose the shard; the next ones choose the pair of slots.
	base := int(h>>cacheShardBits) & (len(s.seen) - 1) &^ (seenWays - 1)
	ways := s.seen[base : base+seenWays]
	victim, victimAge := 0, uint32(0)
	for i, r := range ways {
		if r == 0 { // an empty slot is the first choice for the record
			victim, victimAge = i, ^uint32(0)
			continue
		}
		age := s.sightings - uint32(r)
		if r&^low == tag && age < window {
			ways[i] = 0 // the token is admitted now; its record has served
			return true
		}
		if age >= victimAge {
			victim, victimAge = i, age
		}
	}
	s.sightings++
	ways[victim] = tag | uint64(s.sightings)
	return false
}

// CacheStats is what a Verifier's cache of verified tokens has done, for metrics.
type CacheStats struct {
	Hits     uint64 // tokens answered from the cache
	Misses   uint64 // tokens looked up and not found (or found stale), so verified in full
	Entries  int    // verified tokens held now
	Capacity int    // the most it holds
}

// stats sums the shards' counts.
func (c *tokenCache) stats() CacheStats {
	var st CacheStats
	for i := range c.shards {
		s := &c.shards[i]
		st.Hits += s.hits.Load()
		st.Misses += s.misses.Load()
		st.Capacity += cap(s.order)
	}
	st.Entries = c.len()
	return st
}

// len returns the number of entries.
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
