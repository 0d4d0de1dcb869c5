package keys

import (
	"context"
	"sync"
	"sync/atomic"
)

// Multi combines providers (e.g. a secret, two PEM files and a JWKS URL) into one. Make one with
// NewMulti.
//
// Current is called for every request, so the merged set is cached and rebuilt only when some
// member's Current returns a different *Set than last time (a Remote after a fetch): in the
// steady state it costs one pointer comparison per member and allocates nothing.
type Multi struct {
	providers  []Provider
	refreshers []Refresher

	mu    sync.Mutex   // serializes rebuilds
	cache atomic.Value // *multiCache (see Key.mac for why not atomic.Pointer)
}

// multiCache is a merged set and the member sets it was made from.
type multiCache struct {
	members []*Set
	set     *Set
}

// emptySet is what Multi returns while no member has keys.
var emptySet = &Set{}

// NewMulti combines ps (nil entries are ignored). Providers that also implement Refresher are
// asked to refresh by (*Multi).RefreshFor.
func NewMulti(ps ...Provider) *Multi {
	m := new(Multi)
	for _, p := range ps {
		if p == nil {
			continue
		}
		m.providers = append(m.providers, p)
		if r, ok := p.(Refresher); ok {
			m.refreshers = append(m.refreshers, r)
		}
	}
	return m
}

// Current implements Provider: the keys of every member, in the order the members were given.
func (m *Multi) Current() *Set {
	if len(m.providers) == 1 {
		return m.providers[0].Current()
	}
	if c, _ := m.cache.Load().(*multiCache); c != nil && m.unchanged(c) {
		return c.set
	}
	return m.rebuild()
}

func (m *Multi) unchanged(c *multiCache) bool {
	for i, p := range m.providers {
		if p.Current() != c.members[i] {
			return false
		}
	}
	return true
}

func (m *Multi) rebuild() *Set {
	m.mu.Lock()
	defer m.mu.Unlock()
	// Another caller may have rebuilt while this one waited for the lock.
	if c, _ := m.cache.Load().(*multiCache); c != nil && m.unchanged(c) {
		return c.set
	}
	c := &multiCache{members: make([]*Set, len(m.providers))}
	n, nonEmpty := 0, -1
	for i, p := range m.providers {
		s := p.Current()
		c.members[i] = s
		if s.Len() > 0 {
			n += s.Len()
			nonEmpty = i
		}
	}
	switch {
	case n == 0:
		c.set = emptySet
	case n == c.members[nonEmpty].Len():
		c.set = c.members[nonEmpty] // one member holds every key: no copy needed
	default:
		ks := make([]*Key, 0, n)
		for _, s := range c.members {
			ks = append(ks, s.Keys()...)
		}
		c.set = NewSet(ks...)
	}
	m.cache.Store(c)
	return c.set
}

// RefreshFor implements Refresher by asking every member that can refresh, concurrently, and
// reports whether any of them loaded a new set.
func (m *Multi) RefreshFor(ctx context.Context, kid string) bool {
	switch len(m.refreshers) {
	case 0:
		return false
	case 1:
		return m.refreshers[0].RefreshFor(ctx, kid)
	}
	var (
		wg     sync.WaitGroup
		loaded atomic.Bool
	)
	for _, r := range m.refreshers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r.RefreshFor(ctx, kid) {
				loaded.Store(true)
			}
		}()
	}
	wg.Wait()
	return loaded.Load()
}
