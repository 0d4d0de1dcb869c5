package keys

import "context"

// Set is an immutable collection of keys; a new set replaces an old one atomically.
type Set struct {
	keys []*Key
}

// NewSet returns a set of ks.
func NewSet(ks ...*Key) *Set { return &Set{keys: ks} }

// Len is the number of keys.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.keys)
}

// Keys returns the keys (callers must not modify them).
func (s *Set) Keys() []*Key {
	if s == nil {
		return nil
	}
	return s.keys
}

// Candidates appends to dst the keys that may verify a token with this kid and alg: keys whose ID
// equals kid, plus keys without an ID; when kid is "" every key. Only keys that allow alg qualify.
// It allocates nothing when dst has room for the result.
func (s *Set) Candidates(dst []*Key, kid, alg string) []*Key {
	if s == nil {
		return dst
	}
	for _, k := range s.keys {
		if (kid == "" || k.ID == "" || k.ID == kid) && k.Allows(alg) {
			dst = append(dst, k)
		}
	}
	return dst
}

// HasID reports whether some key in the set has this exact ID.
func (s *Set) HasID(kid string) bool {
	if s == nil {
		return false
	}
	for _, k := range s.keys {
		if k.ID == kid {
			return true
		}
	}
	return false
}

// Provider gives the current key set. Static sets and remote JWK Sets both implement it.
type Provider interface {
	// Current returns the keys in force now; nil or empty when none have been loaded yet.
	Current() *Set
}

// Refresher is implemented by providers that can fetch again when a token names an unknown kid.
type Refresher interface {
	// RefreshFor fetches again (rate limited, coalesced, bounded by ctx) because kid was unknown.
	// It reports whether a new set was loaded.
	RefreshFor(ctx context.Context, kid string) bool
}

// Static is a fixed key set.
type Static struct{ Set *Set }

// Current implements Provider.
func (s Static) Current() *Set { return s.Set }
