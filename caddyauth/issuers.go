package caddyauth

import (
	"sync"
	"sync/atomic"

	"github.com/gatehouse-dev/gatehouse/keys"
)

// issuers is the process-wide registry of the key rings of the loaded jwt_issuer handlers. A
// jwt_auth without key settings verifies with it, so one Caddy that both logs users in and
// protects routes needs no key configured twice. It lives outside any config, so a reload that
// provisions a new jwt_issuer before cleaning up the old one never leaves a moment without keys.
var issuers = newIssuerRegistry()

// issuerRegistry is a keys.Provider whose keys are those of every registered provider.
//
// Current is called for every request a zero-config jwt_auth verifies, so it reads one atomic
// pointer and asks a keys.Multi, which returns the same *keys.Set while no ring changed (the
// verifier's token cache keys on that pointer). Registering or unregistering replaces the Multi,
// and with it the set.
type issuerRegistry struct {
	mu      sync.Mutex // serializes changes of members
	nextID  uint64
	members []issuerMember // in registration order

	current atomic.Pointer[keys.Multi]
}

// issuerMember is one registered provider and the id that unregisters it.
type issuerMember struct {
	id uint64
	p  keys.Provider
}

func newIssuerRegistry() *issuerRegistry {
	r := new(issuerRegistry)
	r.current.Store(keys.NewMulti())
	return r
}

// register adds p and returns the function that removes it again; that function may be called
// more than once (Caddy may run Cleanup twice).
func (r *issuerRegistry) register(p keys.Provider) (unregister func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nextID++
	id := r.nextID
	r.members = append(r.members, issuerMember{id: id, p: p})
	r.publish()
	var once sync.Once
	return func() { once.Do(func() { r.unregister(id) }) }
}

func (r *issuerRegistry) unregister(id uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, m := range r.members {
		if m.id == id {
			r.members = append(r.members[:i:i], r.members[i+1:]...)
			r.publish()
			return
		}
	}
}

// publish makes a new Multi of the members current; the caller holds r.mu.
func (r *issuerRegistry) publish() {
	ps := make([]keys.Provider, len(r.members))
	for i, m := range r.members {
		ps[i] = m.p
	}
	r.current.Store(keys.NewMulti(ps...))
}

// len is the number of registered providers.
func (r *issuerRegistry) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.members)
}

// Current implements keys.Provider: the keys of every registered issuer; an empty set while
// none is registered, so that tokens are refused (no_keys_loaded), never accepted.
func (r *issuerRegistry) Current() *keys.Set { return r.current.Load().Current() }

// Interface guard
var _ keys.Provider = (*issuerRegistry)(nil)
