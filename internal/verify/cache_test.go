package verify

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse/internal/keys"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// swappable is a key provider whose set a test replaces, as a JWKS refresh would.
type swappable struct{ set atomic.Pointer[keys.Set] }

func (s *swappable) Current() *keys.Set { return s.set.Load() }

// clock is a test clock that can be moved.
type clock struct{ t atomic.Int64 }

func (c *clock) now() time.Time    { return time.Unix(c.t.Load(), 0) }
func (c *clock) add(seconds int64) { c.t.Add(seconds) }

func newClock() *clock {
	c := &clock{}
	c.t.Store(testNow.Unix())
	return c
}

func TestCacheHitReturnsTheVerifiedClaims(t *testing.T) {
	m := keyMaterial(t)
	v := newVerifier(t, Policy{}, m.hs)
	raw := signed(t, jwt.SigningMethodHS256, m.secret, "", accessClaims())
	first, err := v.Verify(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	if n := v.cache.len(); n != 1 {
		t.Fatalf("cache holds %d entries after one verification, want 1", n)
	}
	second, err := v.Verify(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	if first != second {
		t.Fatal("a repeated token was decoded again: the cache did not answer")
	}
}

// CacheStats counts a first sighting as a miss, a repeat as a hit, a refused token as a miss
// that adds no entry, and reports the capacity; with the cache off there are no stats.
func TestCacheStats(t *testing.T) {
	m := keyMaterial(t)
	v := newVerifier(t, Policy{CacheSize: 64}, m.hs)
	raw := signed(t, jwt.SigningMethodHS256, m.secret, "", accessClaims())
	ctx := context.Background()
	for range 3 {
		if _, err := v.Verify(ctx, raw); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := v.Verify(ctx, raw[:len(raw)-2]+"AA"); err == nil {
		t.Fatal("a forged signature verified")
	}
	st, ok := v.CacheStats()
	if want := (CacheStats{Hits: 2, Misses: 2, Entries: 1, Capacity: 64}); !ok || st != want {
		t.Errorf("CacheStats = %+v, %v; want %+v, true", st, ok, want)
	}
	off := newVerifier(t, Policy{CacheSize: -1}, m.hs)
	if _, ok := off.CacheStats(); ok {
		t.Error("a Verifier without a cache reports cache stats")
	}
}

func TestCacheOff(t *testing.T) {
	m := keyMaterial(t)
	v := newVerifier(t, Policy{CacheSize: -1}, m.hs)
	raw := signed(t, jwt.SigningMethodHS256, m.secret, "", accessClaims())
	first, err1 := v.Verify(context.Background(), raw)
	second, err2 := v.Verify(context.Background(), raw)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if first == second || v.cache != nil {
		t.Fatal("CacheSize -1 still caches")
	}
}

func TestCacheSizeOutOfRange(t *testing.T) {
	if _, err := New(Policy{CacheSize: -2}, keys.Static{Set: keys.NewSet(keyMaterial(t).hs)}, testClock); err == nil {
		t.Fatal("CacheSize -2 accepted")
	}
}

// TestCacheTimeChecks: a cached token is refused the moment the clock leaves its validity, as if
// it had never been cached, and the stale entry is dropped.
func TestCacheTimeChecks(t *testing.T) {
	m := keyMaterial(t)
	for _, tc := range []struct {
		name   string
		claims jwt.MapClaims
		leeway time.Duration
		move   int64 // seconds from testNow when the token is presented again
		want   Reason
	}{
		{"still valid", accessClaims(), 0, 299, ""},
		{"expired", accessClaims(), 0, 300, ReasonExpired},
		{"expired within leeway", accessClaims(), 30 * time.Second, 329, ""},
		{"expired beyond leeway", accessClaims(), 30 * time.Second, 330, ReasonExpired},
		{"clock stepped back before nbf", with(accessClaims(), "nbf", at(0), "iat", nil), 0, -1, ReasonNotYetValid},
		{"clock stepped back before iat", accessClaims(), 0, -1, ReasonIssuedInFuture},
		{"clock stepped back within leeway", accessClaims(), 10 * time.Second, -10, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			v, err := New(Policy{Leeway: tc.leeway}, keys.Static{Set: keys.NewSet(m.hs)}, c.now)
			if err != nil {
				t.Fatal(err)
			}
			raw := signed(t, jwt.SigningMethodHS256, m.secret, "", tc.claims)
			if _, err := v.Verify(context.Background(), raw); err != nil {
				t.Fatal(err)
			}
			c.add(tc.move)
			_, err = v.Verify(context.Background(), raw)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			checkRefusal(t, err, raw, tc.want)
			if n := v.cache.len(); n != 0 {
				t.Fatalf("cache holds %d entries after the token became invalid, want 0", n)
			}
		})
	}
}

// TestCacheKeyRemoved: when the provider's set changes (a JWKS refresh without the key, a
// rotation), tokens of the removed key stop working on the next request, cached or not.
func TestCacheKeyRemoved(t *testing.T) {
	m := keyMaterial(t)
	a, b := withID(m.es256, "a"), withID(m.eddsa, "b")
	p := &swappable{}
	p.set.Store(keys.NewSet(a, b))
	v, err := New(Policy{}, p, testClock)
	if err != nil {
		t.Fatal(err)
	}
	tokA := signed(t, jwt.SigningMethodES256, m.p256, "a", accessClaims())
	tokB := signed(t, jwt.SigningMethodEdDSA, m.ed, "b", accessClaims())
	for _, raw := range []string{tokA, tokB, tokA, tokB} {
		if _, err := v.Verify(context.Background(), raw); err != nil {
			t.Fatal(err)
		}
	}
	p.set.Store(keys.NewSet(b)) // a is rotated out
	_, err = v.Verify(context.Background(), tokA)
	checkRefusal(t, err, tokA, ReasonUnknownKey)
	if _, err := v.Verify(context.Background(), tokB); err != nil {
		t.Fatalf("the remaining key's token is refused: %v", err)
	}
	// The same key under a new set (a refresh that changed nothing) keeps working.
	p.set.Store(keys.NewSet(b))
	if _, err := v.Verify(context.Background(), tokB); err != nil {
		t.Fatalf("refused after an unchanged refresh: %v", err)
	}
}

// TestCacheRefusalsNotCached: invalid tokens never take a cache slot, whatever their number.
func TestCacheRefusalsNotCached(t *testing.T) {
	m := keyMaterial(t)
	v := newVerifier(t, Policy{Audiences: []string{"api"}}, m.hs)
	for i := range 2000 {
		var raw string
		switch i % 4 {
		case 0: // bad signature
			raw = signed(t, jwt.SigningMethodHS256, []byte("another secret of at least 32 bytes"), "", with(accessClaims(), "jti", fmt.Sprint(i), "aud", "api"))
		case 1: // wrong audience
			raw = signed(t, jwt.SigningMethodHS256, m.secret, "", with(accessClaims(), "jti", fmt.Sprint(i), "aud", "web"))
		case 2: // expired
			raw = signed(t, jwt.SigningMethodHS256, m.secret, "", with(accessClaims(), "jti", fmt.Sprint(i), "aud", "api", "exp", at(-1)))
		default: // garbage
			raw = fmt.Sprintf("garbage.%d.x", i)
		}
		if _, err := v.Verify(context.Background(), raw); err == nil {
			t.Fatalf("token %d accepted", i)
		}
	}
	if n := v.cache.len(); n != 0 {
		t.Fatalf("cache holds %d refused tokens", n)
	}
}

// TestCacheBounded: distinct valid tokens beyond the size evict older ones; the cache never
// holds more than its size, and evicted tokens still verify (the slow way).
func TestCacheBounded(t *testing.T) {
	m := keyMaterial(t)
	const size = 64
	v := newVerifier(t, Policy{CacheSize: size}, m.hs)
	var toks []string
	for i := range 1000 {
		raw := signed(t, jwt.SigningMethodHS256, m.secret, "", with(accessClaims(), "jti", fmt.Sprint(i)))
		toks = append(toks, raw)
		if _, err := v.Verify(context.Background(), raw); err != nil {
			t.Fatal(err)
		}
		if n := v.cache.len(); n > size {
			t.Fatalf("cache holds %d entries, size %d", n, size)
		}
	}
	if _, err := v.Verify(context.Background(), toks[0]); err != nil {
		t.Fatalf("an evicted token is refused: %v", err)
	}
}

// TestCacheCollision: an entry is only returned for the exact token it was stored for, even
// when another token lands on the same hash.
func TestCacheCollision(t *testing.T) {
	c := newTokenCache(16)
	set := keys.NewSet()
	claims := &token.Claims{}
	h := c.hash("token-b")
	c.shard(h).m[h] = &cacheEntry{raw: "token-a", claims: claims, set: set, notBefore: 0, notAfter: 1e18}
	if _, ok := c.lookup(h, "token-b", set, 1); ok {
		t.Fatal("token-b got token-a's claims")
	}
	c.add(c.hash("token-a"), "token-a", claims, set, 0, 1e18)
	if got, ok := c.lookup(c.hash("token-a"), "token-a", set, 1); !ok || got != claims {
		t.Fatal("token-a missed")
	}
}

// TestCacheConcurrent runs verifications of shared and distinct tokens from many goroutines
// while the key set changes; with -race it proves the cache is safe for concurrent use.
func TestCacheConcurrent(t *testing.T) {
	m := keyMaterial(t)
	p := &swappable{}
	p.set.Store(keys.NewSet(m.hs))
	v, err := New(Policy{CacheSize: 32}, p, testClock)
	if err != nil {
		t.Fatal(err)
	}
	var toks []string
	for i := range 100 {
		toks = append(toks, signed(t, jwt.SigningMethodHS256, m.secret, "", with(accessClaims(), "jti", fmt.Sprint(i))))
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				raw := toks[(g*7+i)%len(toks)]
				if g == 0 && i%50 == 0 {
					p.set.Store(keys.NewSet(m.hs))
				}
				if _, err := v.Verify(context.Background(), raw); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestCacheAdmission: once a shard is full, a token is kept only when it is verified a second
// time; a token seen once takes no entry, but still moves the FIFO hand, so that the entries it
// passes leave as they would have with every token admitted.
func TestCacheAdmission(t *testing.T) {
	m := keyMaterial(t)
	const per = 4
	v := newVerifier(t, Policy{CacheSize: per * cacheShards}, m.hs)
	// Tokens of shard 0 only, so that the test follows one shard's FIFO.
	next := 0
	tok := func() string {
		for {
			next++
			raw := signed(t, jwt.SigningMethodHS256, m.secret, "", with(accessClaims(), "jti", fmt.Sprint(next)))
			if v.cache.hash(raw)&(cacheShards-1) == 0 {
				return raw
			}
		}
	}
	ctx := context.Background()
	verify := func(raw string) *token.Claims {
		t.Helper()
		c, err := v.Verify(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	entries := func(want int) {
		t.Helper()
		if n := v.cache.len(); n != want {
			t.Fatalf("cache holds %d entries, want %d", n, want)
		}
	}
	// While the shard has room, a token is kept on its first verification.
	var fill []string
	for range per {
		fill = append(fill, tok())
		verify(fill[len(fill)-1])
	}
	entries(per)
	// A new token verified once is not kept, and the oldest entry leaves.
	one := tok()
	first := verify(one)
	entries(per - 1)
	if _, ok := v.cache.lookup(v.cache.hash(fill[0]), fill[0], v.keys.Current(), v.clock()); ok {
		t.Fatal("the oldest entry was not evicted")
	}
	// Its second verification keeps it (in place of the next oldest); the third is a hit.
	second := verify(one)
	third := verify(one)
	if second == first || third != second {
		t.Fatal("a token verified twice in a full shard is not answered from the cache")
	}
	entries(per - 1)
	// A flood of tokens seen once drains the shard instead of filling it.
	for range 10 * per {
		verify(tok())
	}
	entries(0)
	// A drained token is verified again, and kept on its second verification.
	verify(fill[0])
	entries(0)
	verify(fill[0])
	entries(1)
}

// TestCacheDoorkeeperWindow: a second sighting admits a token only within the shard's last
// capacity-many first sightings; an older one is a first sighting again.
func TestCacheDoorkeeperWindow(t *testing.T) {
	const per = 8
	c := newTokenCache(per * cacheShards)
	set := keys.NewSet()
	claims := &token.Claims{}
	// Hashes of shard 0 with distinct doorkeeper slots and tags.
	key := func(i int) uint64 { return uint64(i+1)<<32 | uint64(i)<<4 }
	for i := range per {
		c.add(key(i), fmt.Sprint("fill", i), claims, set, 0, 1e18)
	}
	s := &c.shards[0]
	if len(s.m) != per {
		t.Fatalf("shard holds %d entries, want %d", len(s.m), per)
	}
	add := func(i int) bool {
		raw := fmt.Sprint("token", i)
		c.add(key(100+i), raw, claims, set, 0, 1e18)
		_, ok := c.lookup(key(100+i), raw, set, 1)
		return ok
	}
	if add(0) {
		t.Fatal("a first sighting was admitted into a full shard")
	}
	if !add(0) {
		t.Fatal("a second sighting right after the first was not admitted")
	}
	// Token 1 is seen, then per other tokens: its next sighting is outside the window.
	add(1)
	for i := range per {
		if add(2 + i) {
			t.Fatalf("first sighting of token %d admitted", 2+i)
		}
	}
	if add(1) {
		t.Fatal("a sighting older than the window admitted the token")
	}
	// Within the window (per-1 others in between) it is admitted.
	for i := range per - 1 {
		add(20 + i)
	}
	if !add(1) {
		t.Fatal("a sighting within the window did not admit the token")
	}
}

// TestCacheInvariants runs random insertions, lookups at moving times and key set changes on a
// small cache and checks after each step that no shard holds more entries than its capacity and
// that every entry is the one its FIFO slot names.
func TestCacheInvariants(t *testing.T) {
	const per = 4
	c := newTokenCache(per * cacheShards)
	sets := []*keys.Set{keys.NewSet(), keys.NewSet()}
	claims := &token.Claims{}
	rng := rand.New(rand.NewPCG(1, 2))
	for step := range 20000 {
		i := rng.IntN(200)
		raw := fmt.Sprint("token", i)
		// Few distinct hashes, so that collisions and slot reuse happen.
		h := uint64(i%40)<<4 | uint64(i%cacheShards)
		set := sets[rng.IntN(2)]
		now := float64(rng.IntN(100))
		if _, ok := c.lookup(h, raw, set, now); !ok {
			c.add(h, raw, claims, set, float64(rng.IntN(50)), float64(50+rng.IntN(100)))
		}
		for k := range c.shards {
			s := &c.shards[k]
			if len(s.m) > cap(s.order) {
				t.Fatalf("step %d: shard %d holds %d entries, capacity %d", step, k, len(s.m), cap(s.order))
			}
			for key, e := range s.m {
				if e.slot >= len(s.order) || s.order[e.slot] != key {
					t.Fatalf("step %d: entry %x is not in its slot %d", step, key, e.slot)
				}
			}
		}
	}
}
