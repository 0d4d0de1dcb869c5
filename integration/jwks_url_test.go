package integration

import (
	"crypto/ecdsa"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Modes of jwksServer.
const (
	jwksServe  int32 = iota // 200 with the current set
	jwksError               // 500
	jwksHangUp              // close the connection without an answer
)

// jwksServer is an issuer's JWK Set endpoint that the test can switch between keys and failures.
type jwksServer struct {
	body  atomic.Pointer[string]
	mode  atomic.Int32
	hits  atomic.Int64 // requests received, in every mode
	addr  string       // 127.0.0.1:port
	close func()
}

// newJWKSServer reserves a loopback port for a JWK Set endpoint serving body. It does not
// listen yet: call start.
func newJWKSServer(t *testing.T, body string) *jwksServer {
	t.Helper()
	s := &jwksServer{addr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), close: func() {}}
	s.body.Store(&body)
	t.Cleanup(func() { s.close() })
	return s
}

func (s *jwksServer) URL() string { return "http://" + s.addr + "/.well-known/jwks.json" }

func (s *jwksServer) set(body string) { s.body.Store(&body) }

// start listens on the reserved port and serves.
func (s *jwksServer) start(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		t.Fatalf("listening on the reserved JWKS port: %v", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(s.serveHTTP), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	s.close = func() { _ = srv.Close() }
}

func (s *jwksServer) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.hits.Add(1)
	switch s.mode.Load() {
	case jwksError:
		http.Error(w, "issuer is down", http.StatusInternalServerError)
	case jwksHangUp:
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			conn.Close()
		}
	default:
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write([]byte(*s.body.Load()))
	}
}

// esToken is an ES256 access token for sub alice signed by key, with kid in its header.
func esToken(t *testing.T, key *ecdsa.PrivateKey, kid string) string {
	t.Helper()
	return sign(t, jwt.SigningMethodES256, key, access(jwt.MapClaims{"sub": "alice"}), map[string]any{"kid": kid})
}

// A remote JWK Set: Caddy starts while the endpoint is down and refuses tokens until the keys
// arrive; later fetches follow key rotation and keep the last good keys through an outage.
func TestJWKSURLLifecycle(t *testing.T) {
	t.Parallel()
	key1, key2 := mustEC(), mustEC()
	issuer := newJWKSServer(t, jwks(t, jwkOf(t, "key-1", &key1.PublicKey)))
	srv := startCaddy(t, `
	jwt_auth {
		jwks_url `+issuer.URL()+` refresh 1s
	}
	respond "hello {http.auth.user.id}"`)
	tok1, tok2 := esToken(t, key1, "key-1"), esToken(t, key2, "key-2")

	accepted := func(tok string) func() bool {
		return func() bool {
			resp := get(t, srv.URL+"/", bearer(tok))
			return resp.Status == http.StatusOK && resp.Body == "hello alice"
		}
	}
	refused := func(tok string) func() bool {
		return func() bool {
			resp := get(t, srv.URL+"/", bearer(tok))
			return resp.Status == http.StatusUnauthorized && resp.Body == bodyInvalid
		}
	}

	// The endpoint is down: Caddy runs and refuses every token (fail closed).
	for range 3 {
		if !refused(tok1)() {
			t.Fatal("a token was not refused with 401 while no keys were loaded")
		}
	}
	if !srv.running() || !ready(httpClient, srv.Admin+"/config/") {
		t.Fatal("caddy is not running while the JWKS endpoint is down")
	}

	// The endpoint comes up: the keys arrive without a reload.
	issuer.start(t)
	if !eventually(20*time.Second, accepted(tok1)) {
		t.Fatal("token not accepted within 20s of the JWKS endpoint coming up")
	}
	for range 5 { // repeats come from jwt_auth's verified-token cache
		if !accepted(tok1)() {
			t.Fatal("a verified token was refused when sent again")
		}
	}

	// Rotation: the issuer replaces key-1 with key-2.
	issuer.set(jwks(t, jwkOf(t, "key-2", &key2.PublicKey)))
	if !eventually(10*time.Second, accepted(tok2)) {
		t.Fatal("token with the new kid not accepted within 10s of the rotation")
	}
	// tok1 was verified and cached many times over; the set that no longer has its key is
	// loaded (tok2 passed), so tok1 must be refused at once, not when its cache entry ages out.
	if !refused(tok1)() {
		t.Fatal("token of the removed key still accepted after the new set was loaded")
	}

	// Outages: failed fetches keep the last good keys.
	for _, mode := range []struct {
		name string
		mode int32
	}{{"HTTP 500", jwksError}, {"connection closed", jwksHangUp}} {
		before := issuer.hits.Load()
		issuer.mode.Store(mode.mode)
		if !eventually(10*time.Second, func() bool { return issuer.hits.Load() >= before+2 }) {
			t.Fatalf("%s: caddy did not fetch again within 10s", mode.name)
		}
		if !accepted(tok2)() {
			t.Errorf("%s: the last good key was dropped", mode.name)
		}
	}
	if !srv.running() {
		t.Fatal("caddy stopped during the outage")
	}
}

// A token naming an unknown kid makes Caddy fetch the set again before the scheduled refresh
// (here an hour away), and a flood of such tokens does not become a flood of fetches.
func TestJWKSURLUnknownKidRefetch(t *testing.T) {
	t.Parallel()
	key1, key2 := mustEC(), mustEC()
	issuer := newJWKSServer(t, jwks(t, jwkOf(t, "key-1", &key1.PublicKey)))
	issuer.start(t)
	srv := startCaddy(t, `
	jwt_auth {
		jwks_url `+issuer.URL()+`
	}
	respond "hello {http.auth.user.id}"`)

	tok1, tok2 := esToken(t, key1, "key-1"), esToken(t, key2, "key-2")
	if !eventually(10*time.Second, func() bool { return get(t, srv.URL+"/", bearer(tok1)).Status == http.StatusOK }) {
		t.Fatal("token not accepted within 10s of start")
	}
	if got := issuer.hits.Load(); got != 1 {
		t.Fatalf("JWKS fetched %d times after start, want 1", got)
	}

	issuer.set(jwks(t, jwkOf(t, "key-1", &key1.PublicKey), jwkOf(t, "key-2", &key2.PublicKey)))
	// The set was fetched moments ago (a restart followed by a rotation): the first token with
	// the new kid still makes Caddy fetch at once, and waits for the fetch, so it passes.
	if resp := get(t, srv.URL+"/", bearer(tok2)); resp.Status != http.StatusOK || resp.Body != "hello alice" {
		t.Fatalf("the first token with the new kid got %d %q, want 200 (JWKS fetched %d times)", resp.Status, resp.Body, issuer.hits.Load())
	}
	if got := issuer.hits.Load(); got != 2 {
		t.Errorf("JWKS fetched %d times, want 2 (start, then the new kid)", got)
	}
	// A flood of made-up kids right after is within the backoff (keys.RemoteOptions
	// MaxRefetchInterval): refused, and no fetch.
	for i := range 20 {
		resp := get(t, srv.URL+"/", bearer(esToken(t, key2, fmt.Sprintf("made-up-%d", i))))
		if resp.Status != http.StatusUnauthorized || resp.Body != bodyInvalid {
			t.Errorf("made-up kid %d: got %d %q, want 401", i, resp.Status, resp.Body)
		}
	}
	if got := issuer.hits.Load(); got != 2 {
		t.Errorf("JWKS fetched %d times after a flood of unknown kids, want still 2", got)
	}
	if resp := get(t, srv.URL+"/", bearer(tok1)); resp.Status != http.StatusOK {
		t.Errorf("the old key's token got %d after the refetch, want 200", resp.Status)
	}
}
