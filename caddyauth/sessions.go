package caddyauth

import (
	"sync"
	"sync/atomic"

	"github.com/gatehouse-dev/gatehouse/issuer"
)

// sessions is the process-wide registry of the browser sessions of the loaded jwt_issuer
// handlers, by base path: a jwt_auth with `session /api/token` reads, renews and redirects with
// the sessions of the issuer at /api/token. Like issuers, it lives outside any config, so a
// reload that provisions the new issuer before cleaning up the old one never leaves a moment
// without one; the most recently registered issuer of a base path wins.
var sessions = newSessionRegistry()

type sessionRegistry struct {
	mu      sync.Mutex
	nextID  uint64
	members []sessionMember // in registration order

	current atomic.Pointer[map[string]*issuer.Sessions]
}

type sessionMember struct {
	id   uint64
	base string
	s    *issuer.Sessions
}

func newSessionRegistry() *sessionRegistry {
	r := new(sessionRegistry)
	r.current.Store(&map[string]*issuer.Sessions{})
	return r
}

// register adds s under base and returns the function that removes it again (callable more
// than once).
func (r *sessionRegistry) register(base string, s *issuer.Sessions) (unregister func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nextID++
	id := r.nextID
	r.members = append(r.members, sessionMember{id: id, base: base, s: s})
	r.publish()
	var once sync.Once
	return func() {
		once.Do(func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			for i, m := range r.members {
				if m.id == id {
					r.members = append(r.members[:i:i], r.members[i+1:]...)
					break
				}
			}
			r.publish()
		})
	}
}

// publish makes the map of the members current, later registrations winning; the caller holds
// r.mu.
func (r *sessionRegistry) publish() {
	m := make(map[string]*issuer.Sessions, len(r.members))
	for _, mb := range r.members {
		m[mb.base] = mb.s
	}
	r.current.Store(&m)
}

// get returns the sessions of the issuer at base, or nil when none is loaded.
func (r *sessionRegistry) get(base string) *issuer.Sessions { return (*r.current.Load())[base] }
