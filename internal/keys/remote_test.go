package keys

import (
	"context"
	"crypto/ed25519"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// jwksServer serves whatever the test sets, and counts requests.
type jwksServer struct {
	*httptest.Server
	requests atomic.Int32
	arrived  chan struct{} // receives once per request, if anyone listens

	mu     sync.Mutex
	body   []byte
	status int           // 0: 200
	down   bool          // abort the connection without an answer
	block  chan struct{} // when set, requests wait for it to be closed
}

func newJWKSServer(t *testing.T, body []byte) *jwksServer {
	t.Helper()
	s := &jwksServer{body: body, arrived: make(chan struct{}, 100)}
	mux := http.NewServeMux()
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		select {
		case s.arrived <- struct{}{}:
		default:
		}
		s.mu.Lock()
		body, status, down, block := s.body, s.status, s.down, s.block
		s.mu.Unlock()
		if block != nil {
			select {
			case <-block:
			case <-r.Context().Done():
				return
			}
		}
		if down {
			panic(http.ErrAbortHandler)
		}
		if status == http.StatusFound {
			http.Redirect(w, r, "/elsewhere", status)
			return
		}
		if status != 0 {
			w.WriteHeader(status)
		}
		w.Write(body)
	})
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) {
		t.Error("the redirect was followed")
		w.Write(body)
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(f func(s *jwksServer)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

func (s *jwksServer) url() string { return s.URL + "/jwks" }

// newTestRemote makes a Remote for srv, stopped at the end of the test (before the server closes).
func newTestRemote(t *testing.T, srv *jwksServer, opts RemoteOptions) *Remote {
	t.Helper()
	opts.URL = srv.url()
	r, err := NewRemote(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	return r
}

// eventually polls cond until it holds; the deadline only guards against a hung test.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func edSet(t *testing.T, kids ...string) []byte {
	pub := testEd(t).Public().(ed25519.PublicKey)
	var jwks []string
	for _, kid := range kids {
		jwks = append(jwks, edJWK(pub, map[string]any{"kid": kid}))
	}
	return setJSON(jwks...)
}

func TestNewRemote(t *testing.T) {
	tests := []struct {
		name    string
		opts    RemoteOptions
		wantErr string
	}{
		{"https", RemoteOptions{URL: "https://issuer.example/.well-known/jwks.json"}, ""},
		{"HTTPS upper case", RemoteOptions{URL: "HTTPS://issuer.example/jwks"}, ""},
		{"http loopback v4", RemoteOptions{URL: "http://127.0.0.1:8000/jwks"}, ""},
		{"http loopback v4 other", RemoteOptions{URL: "http://127.9.9.9/jwks"}, ""},
		{"http loopback v6", RemoteOptions{URL: "http://[::1]:8000/jwks"}, ""},
		{"http localhost", RemoteOptions{URL: "http://LocalHost:8000/jwks"}, ""},
		{"http remote host", RemoteOptions{URL: "http://issuer.example/jwks"}, "use https; plain http is allowed only to a loopback host"},
		{"http private address", RemoteOptions{URL: "http://10.0.0.1/jwks"}, "use https"},
		{"http localhost lookalike", RemoteOptions{URL: "http://localhost.evil.example/jwks"}, "use https"},
		{"ftp", RemoteOptions{URL: "ftp://issuer.example/jwks"}, `scheme "ftp" is not supported; use https`},
		{"file", RemoteOptions{URL: "file:///etc/jwks.json"}, "must be an absolute https:// URL"},
		{"relative", RemoteOptions{URL: "/jwks"}, "must be an absolute https:// URL"},
		{"empty", RemoteOptions{}, "must be an absolute https:// URL"},
		{"not a URL", RemoteOptions{URL: "https://[::1"}, "jwks_url is not a valid URL"},
		{"password not echoed", RemoteOptions{URL: "http://user:hunter2@issuer.example/jwks"}, "http://user:xxxxx@issuer.example/jwks: use https"},
		{"negative refresh", RemoteOptions{URL: "https://issuer.example/jwks", Refresh: -time.Second}, "must not be negative"},
		{"negative size cap", RemoteOptions{URL: "https://issuer.example/jwks", MaxBytes: -1}, "must not be negative"},
		{"alg none", RemoteOptions{URL: "https://issuer.example/jwks", Allowed: []string{"none"}}, `"none" is never accepted`},
		{"unknown alg", RemoteOptions{URL: "https://issuer.example/jwks", Allowed: []string{"RS1"}}, `unknown algorithm "RS1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewRemote(tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("error shows the URL's password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Current() == nil || r.Current().Len() != 0 {
				t.Error("a new Remote must have an empty, non-nil set")
			}
			if r.opts.Refresh != DefaultRefresh || r.opts.MaxRefetchInterval != DefaultMaxRefetchInterval || r.opts.RefetchWait != DefaultRefetchWait || r.opts.Timeout != DefaultTimeout || r.opts.MaxBytes != DefaultMaxBytes {
				t.Errorf("defaults not applied: %+v", r.opts)
			}
			r.Stop()
		})
	}
}

// The endpoint is down at start: Start does not wait, the set stays empty, and the keys appear
// once the endpoint answers, through the retry loop alone.
func TestRemoteStartWhileDown(t *testing.T) {
	srv := newJWKSServer(t, edSet(t, "k1"))
	srv.set(func(s *jwksServer) { s.down = true })
	r := newTestRemote(t, srv, RemoteOptions{Refresh: 10 * time.Millisecond, MaxRefetchInterval: time.Hour})
	r.Start()
	r.Start() // a second Start changes nothing
	eventually(t, "two failed fetches", func() bool { return srv.requests.Load() >= 2 })
	if r.Current().Len() != 0 {
		t.Fatal("keys while the endpoint is down")
	}
	if r.LastError() == nil || !r.LastSuccess().IsZero() {
		t.Errorf("LastError = %v, LastSuccess = %v", r.LastError(), r.LastSuccess())
	}
	srv.set(func(s *jwksServer) { s.down = false })
	eventually(t, "keys after the endpoint came up", func() bool { return r.Current().HasID("k1") })
	eventually(t, "LastError cleared", func() bool { return r.LastError() == nil })
	if r.LastSuccess().IsZero() {
		t.Error("LastSuccess not set")
	}
	if k := r.Current().Keys()[0]; k.Origin != "jwks_url "+srv.url() {
		t.Errorf("Origin = %q", k.Origin)
	}
}

// A new kid at the issuer is picked up by RefreshFor, without waiting for Refresh.
func TestRemoteRotation(t *testing.T) {
	srv := newJWKSServer(t, edSet(t, "old"))
	r := newTestRemote(t, srv, RemoteOptions{MaxRefetchInterval: time.Nanosecond})
	ctx := context.Background()
	if !r.RefreshFor(ctx, "old") || !r.Current().HasID("old") {
		t.Fatal("first RefreshFor did not load the set")
	}
	if r.RefreshFor(ctx, "old") {
		t.Error("RefreshFor of a known kid reported a load")
	}
	if n := srv.requests.Load(); n != 1 {
		t.Errorf("a known kid caused a fetch: %d requests", n)
	}
	srv.set(func(s *jwksServer) { s.body = edSet(t, "old", "new") })
	if !r.RefreshFor(ctx, "new") {
		t.Fatal("RefreshFor of the new kid did not load")
	}
	if !r.Current().HasID("new") || !r.Current().HasID("old") {
		t.Errorf("rotated set lacks a kid: %d keys", r.Current().Len())
	}
}

// Unknown kids cannot make the Remote hammer the issuer: after the first fetch, none until the
// backoff's first wait has passed.
func TestRemoteRateLimit(t *testing.T) {
	srv := newJWKSServer(t, edSet(t, "k1"))
	r := newTestRemote(t, srv, RemoteOptions{MaxRefetchInterval: time.Hour})
	ctx := context.Background()
	if !r.RefreshFor(ctx, "unknown-1") {
		t.Fatal("first RefreshFor did not fetch")
	}
	for _, kid := range []string{"unknown-2", "unknown-3", ""} {
		if r.RefreshFor(ctx, kid) {
			t.Errorf("RefreshFor(%q) within the backoff reported a load", kid)
		}
	}
	if n := srv.requests.Load(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

// A restart followed by a rotation: the set was fetched a moment ago, and the first token with
// the new kid makes the Remote fetch again at once, and passes (RefreshFor waits for the fetch),
// with the default options.
func TestRemoteUnknownKidRightAfterFetch(t *testing.T) {
	srv := newJWKSServer(t, edSet(t, "old"))
	r := newTestRemote(t, srv, RemoteOptions{})
	r.Start()
	eventually(t, "the first fetch", func() bool { return r.Current().HasID("old") })
	srv.set(func(s *jwksServer) { s.body = edSet(t, "old", "new") })
	if !r.RefreshFor(context.Background(), "new") || !r.Current().HasID("new") {
		t.Fatalf("the new kid was not fetched at once (%d requests): %v", srv.requests.Load(), r.LastError())
	}
	if n := srv.requests.Load(); n != 2 {
		t.Errorf("%d requests, want 2 (start, then the unknown kid)", n)
	}
	// Another new kid right away is within the backoff: no fetch.
	if r.RefreshFor(context.Background(), "newer") {
		t.Error("a second unknown kid fetched within the backoff")
	}
	if n := srv.requests.Load(); n != 2 {
		t.Errorf("%d requests after a second unknown kid, want 2", n)
	}
}

// A flood of unknown kids costs a few fetches a minute: the first at once, then after waits of
// 5, 10, 20 and 30 s (MaxRefetchInterval), and after a quiet 2*MaxRefetchInterval the first is
// at once again. The clock is the test's: every simulated second brings ten unknown kids.
func TestRemoteUnknownKidBackoff(t *testing.T) {
	srv := newJWKSServer(t, edSet(t, "k1"))
	r := newTestRemote(t, srv, RemoteOptions{})
	t0 := time.Now()
	var fetchedAt []int // simulated seconds
	flood := func(from, to int) {
		for sec := from; sec < to; sec++ {
			for range 10 {
				if c := r.beginForKid(t0.Add(time.Duration(sec) * time.Second)); c != nil {
					<-c.done
					fetchedAt = append(fetchedAt, sec)
				}
			}
		}
	}
	flood(0, 120)
	if want := []int{0, 5, 15, 35, 65, 95}; !slices.Equal(fetchedAt, want) {
		t.Errorf("fetches at %v s, want %v", fetchedAt, want)
	}
	if n := int(srv.requests.Load()); n != len(fetchedAt) {
		t.Errorf("%d requests, want %d", n, len(fetchedAt))
	}
	// Quiet from 95 s until 155 s (2*30 s): the backoff starts over.
	fetchedAt = nil
	flood(155, 170)
	if want := []int{155, 160}; !slices.Equal(fetchedAt, want) {
		t.Errorf("after a quiet minute: fetches at %v s, want %v", fetchedAt, want)
	}
}

func TestNextRefetchGap(t *testing.T) {
	for _, tt := range []struct{ prev, limit, want time.Duration }{
		{0, 30 * time.Second, 5 * time.Second},
		{5 * time.Second, 30 * time.Second, 10 * time.Second},
		{20 * time.Second, 30 * time.Second, 30 * time.Second},
		{30 * time.Second, 30 * time.Second, 30 * time.Second},
		{0, time.Second, time.Second},
	} {
		if got := nextRefetchGap(tt.prev, tt.limit); got != tt.want {
			t.Errorf("nextRefetchGap(%v, %v) = %v, want %v", tt.prev, tt.limit, got, tt.want)
		}
	}
}

// RefreshFor waits RefetchWait at most for a slow issuer; the fetch goes on and its keys serve
// the tokens that come after.
func TestRemoteRefetchWait(t *testing.T) {
	srv := newJWKSServer(t, edSet(t, "k1"))
	release := make(chan struct{})
	srv.set(func(s *jwksServer) { s.block = release })
	r := newTestRemote(t, srv, RemoteOptions{RefetchWait: 50 * time.Millisecond})
	start := time.Now()
	if r.RefreshFor(context.Background(), "k1") {
		t.Fatal("RefreshFor reported a load from a fetch that has not ended")
	}
	if d := time.Since(start); d < 50*time.Millisecond || d > 5*time.Second {
		t.Errorf("RefreshFor returned after %v, want about 50ms", d)
	}
	close(release)
	eventually(t, "the fetch to finish after RefreshFor gave up", func() bool { return r.Current().HasID("k1") })
}

// Callers arriving while a fetch is in flight share it; a caller's ctx bounds only its own wait.
func TestRemoteCoalesce(t *testing.T) {
	srv := newJWKSServer(t, edSet(t, "k1"))
	release := make(chan struct{})
	srv.set(func(s *jwksServer) { s.block = release })
	r := newTestRemote(t, srv, RemoteOptions{MaxRefetchInterval: time.Nanosecond})

	first := r.begin()
	<-srv.arrived
	if again, forKid := r.begin(), r.beginForKid(time.Now()); again != first || forKid != first {
		t.Fatal("a second caller started its own fetch")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if r.RefreshFor(ctx, "k1") {
		t.Error("RefreshFor reported a load although its ctx ended first")
	}
	close(release)
	<-first.done
	if !first.ok || !r.Current().HasID("k1") {
		t.Fatal("the shared fetch did not load the set")
	}
	if n := srv.requests.Load(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

// A failed fetch keeps the last good keys (stale-if-error) and records why.
func TestRemoteStaleIfError(t *testing.T) {
	good := edSet(t, "k1")
	tests := []struct {
		name    string
		change  func(s *jwksServer)
		wantErr string
	}{
		{"outage", func(s *jwksServer) { s.down = true }, "EOF"},
		{"server error", func(s *jwksServer) { s.status = http.StatusServiceUnavailable }, "HTTP status 503; expected 200"},
		{"not found", func(s *jwksServer) { s.status = http.StatusNotFound }, "HTTP status 404"},
		{"garbage body", func(s *jwksServer) { s.body = []byte("<html>login</html>") }, "not a JWK Set"},
		{"empty set", func(s *jwksServer) { s.body = []byte(`{"keys":[]}`) }, "no usable signature key"},
		{"huge body", func(s *jwksServer) { s.body = append(good, make([]byte, 2048)...) }, "JWK Set is larger than 1024 bytes"},
		{"redirect", func(s *jwksServer) { s.status = http.StatusFound }, "HTTP status 302: redirects are not followed"},
		{"private key", func(s *jwksServer) {
			s.body = setJSON(edJWK(testEd(t).Public().(ed25519.PublicKey), map[string]any{"d": b64(testEd(t).Seed())}))
		}, "JWKS contains a private key"},
		{"symmetric key", func(s *jwksServer) { s.body = setJSON(octJWK(randomBytes(32), nil)) }, `symmetric (kty "oct") key`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newJWKSServer(t, good)
			r := newTestRemote(t, srv, RemoteOptions{MaxRefetchInterval: time.Nanosecond, MaxBytes: 1024})
			ctx := context.Background()
			if !r.RefreshFor(ctx, "k1") {
				t.Fatalf("first fetch failed: %v", r.LastError())
			}
			before := r.Current()
			srv.set(tt.change)
			if r.RefreshFor(ctx, "k2") {
				t.Fatal("a failed fetch reported a load")
			}
			if r.Current() != before {
				t.Error("the last good keys were replaced")
			}
			if err := r.LastError(); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("LastError = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

// The size cap is exact: a body of MaxBytes is read, one byte more is refused.
func TestRemoteMaxBytes(t *testing.T) {
	body := edSet(t, "k1")
	srv := newJWKSServer(t, body)
	r := newTestRemote(t, srv, RemoteOptions{MaxRefetchInterval: time.Nanosecond, MaxBytes: int64(len(body))})
	if !r.RefreshFor(context.Background(), "k1") {
		t.Fatalf("a body of exactly MaxBytes was refused: %v", r.LastError())
	}
	srv.set(func(s *jwksServer) { s.body = append(body, ' ') })
	if r.RefreshFor(context.Background(), "k2") {
		t.Fatal("a body one byte over MaxBytes was accepted")
	}
}

// A fetch that takes longer than Timeout fails instead of hanging.
func TestRemoteTimeout(t *testing.T) {
	srv := newJWKSServer(t, edSet(t, "k1"))
	release := make(chan struct{})
	defer close(release)
	srv.set(func(s *jwksServer) { s.block = release })
	r := newTestRemote(t, srv, RemoteOptions{Timeout: 20 * time.Millisecond})
	if r.RefreshFor(context.Background(), "k1") {
		t.Fatal("a hung fetch reported a load")
	}
	if err := r.LastError(); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("LastError = %v, want a deadline error", err)
	}
}

// The allow-list applies to fetched keys too.
func TestRemoteAllowed(t *testing.T) {
	srv := newJWKSServer(t, setJSON(
		rsaJWK(&testRSA(t, 2048).PublicKey, map[string]any{"kid": "rsa"}),
		edJWK(testEd(t).Public().(ed25519.PublicKey), map[string]any{"kid": "ed"}),
	))
	r := newTestRemote(t, srv, RemoteOptions{MaxRefetchInterval: time.Nanosecond, Allowed: []string{"RS256"}})
	if !r.RefreshFor(context.Background(), "rsa") {
		t.Fatal(r.LastError())
	}
	if s := r.Current(); s.Len() != 1 || s.Keys()[0].ID != "rsa" || len(s.Keys()[0].Algs) != 1 {
		t.Errorf("allow-list not applied: %d keys", s.Len())
	}
	srv.set(func(s *jwksServer) { s.body = edSet(t, "ed") })
	if r.RefreshFor(context.Background(), "ed") {
		t.Error("a set with no allowed key was loaded")
	}
	if err := r.LastError(); err == nil || !strings.Contains(err.Error(), "no key allows any of the configured algorithms (RS256)") {
		t.Errorf("LastError = %v", err)
	}
}

// countingTransport counts the requests a client starts: unlike a count at the server, it cannot
// see a request that was sent before Stop arrive afterwards.
type countingTransport struct{ n atomic.Int32 }

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(req)
}

func TestRemoteStop(t *testing.T) {
	srv := newJWKSServer(t, edSet(t, "k1"))
	ct := new(countingTransport)
	r := newTestRemote(t, srv, RemoteOptions{Refresh: time.Millisecond, MaxRefetchInterval: time.Nanosecond, Client: &http.Client{Transport: ct}})
	r.Start()
	eventually(t, "periodic fetches", func() bool { return ct.n.Load() >= 3 && r.Current().HasID("k1") })
	r.Stop()
	r.Stop() // idempotent
	n := ct.n.Load()
	r.Start() // no effect after Stop
	if r.RefreshFor(context.Background(), "unknown") {
		t.Error("RefreshFor fetched after Stop")
	}
	time.Sleep(20 * time.Millisecond) // twenty refresh periods: a running loop would have fetched
	if got := ct.n.Load(); got != n {
		t.Errorf("%d fetches after Stop", got-n)
	}
	if !r.Current().HasID("k1") {
		t.Error("Stop dropped the keys")
	}
}

// Failures are warnings with the URL and the error only; successes are debug lines with the count.
func TestRemoteLogging(t *testing.T) {
	seed := testEd(t).Seed()
	srv := newJWKSServer(t, edSet(t, "k1", "k2"))
	core, logs := observer.New(zapcore.DebugLevel)
	r := newTestRemote(t, srv, RemoteOptions{MaxRefetchInterval: time.Nanosecond, Logger: zap.New(core).Sugar()})
	r.RefreshFor(context.Background(), "k1")
	srv.set(func(s *jwksServer) {
		s.body = setJSON(edJWK(testEd(t).Public().(ed25519.PublicKey), map[string]any{"d": b64(seed)}))
	})
	r.RefreshFor(context.Background(), "k3")

	entries := logs.AllUntimed()
	if len(entries) != 2 {
		t.Fatalf("%d log entries, want 2", len(entries))
	}
	ok, fail := entries[0], entries[1]
	if ok.Level != zapcore.DebugLevel || ok.ContextMap()["url"] != srv.url() || ok.ContextMap()["keys"] != int64(2) {
		t.Errorf("success entry: %v %v", ok.Level, ok.ContextMap())
	}
	fields := fail.ContextMap()
	if fail.Level != zapcore.WarnLevel || len(fields) != 2 || fields["url"] != srv.url() {
		t.Errorf("failure entry: %v %v", fail.Level, fields)
	}
	if msg, _ := fields["error"].(string); !strings.Contains(msg, "private key") || strings.Contains(msg, b64(seed)) {
		t.Errorf("failure error field: %q", msg)
	}
}

// A key the Remote skips is logged as a warning with the URL, its kid and why, once while the
// issuer keeps publishing it; a newly skipped key is logged when it appears. Never key material.
func TestRemoteLogsSkippedKeys(t *testing.T) {
	pub := testEd(t).Public().(ed25519.PublicKey)
	rsaPub := &testRSA(t, 2048).PublicKey
	srv := newJWKSServer(t, setJSON(
		edJWK(pub, map[string]any{"kid": "good"}),
		rsaJWK(rsaPub, map[string]any{"kid": "enc-1", "use": "enc"}),
		edJWK(pub, map[string]any{"kid": "ed448", "alg": "Ed448"}),
	))
	core, logs := observer.New(zapcore.InfoLevel)
	r := newTestRemote(t, srv, RemoteOptions{MaxRefetchInterval: time.Nanosecond, Logger: zap.New(core).Sugar()})
	r.RefreshFor(context.Background(), "good")
	r.RefreshFor(context.Background(), "other") // the same set again: nothing new to say

	skips := logs.FilterMessage("JWK Set key skipped").AllUntimed()
	if len(skips) != 2 {
		t.Fatalf("%d skip warnings, want 2: %v", len(skips), logs.AllUntimed())
	}
	for i, want := range []struct {
		kid, reason string
	}{{"enc-1", `"use":"enc" is not "sig"`}, {"ed448", `"alg":"Ed448" is not an algorithm Gatehouse verifies`}} {
		e := skips[i]
		f := e.ContextMap()
		if e.Level != zapcore.WarnLevel || f["url"] != srv.url() || f["kid"] != want.kid {
			t.Errorf("warning %d: %v %v", i, e.Level, f)
		}
		if reason, _ := f["reason"].(string); !strings.HasPrefix(reason, want.reason) {
			t.Errorf("warning %d reason %q, want it to start with %q", i, reason, want.reason)
		}
		for _, v := range f {
			if s, _ := v.(string); strings.Contains(s, b64(pub)) || strings.Contains(s, b64(rsaPub.N.Bytes())[:16]) {
				t.Errorf("warning %d shows key material: %v", i, f)
			}
		}
	}

	// A key that starts being skipped is logged when it appears.
	srv.set(func(s *jwksServer) {
		s.body = setJSON(edJWK(pub, map[string]any{"kid": "good"}), rsaJWK(rsaPub, map[string]any{"kid": "enc-1", "use": "enc"}),
			jwkJSON(map[string]any{"kty": "EC", "crv": "secp256k1", "kid": "k1", "x": "AA", "y": "AA"}))
	})
	r.RefreshFor(context.Background(), "other-2")
	skips = logs.FilterMessage("JWK Set key skipped").AllUntimed()
	if len(skips) != 3 || skips[2].ContextMap()["kid"] != "k1" {
		t.Errorf("after a change: %d skip warnings, want a third for k1: %v", len(skips), skips)
	}
}

// After failures the wait grows from firstRetry, doubling, up to Refresh or maxRetry.
func TestNextRetry(t *testing.T) {
	tests := []struct {
		prev, refresh, want time.Duration
	}{
		{0, time.Hour, 5 * time.Second},
		{5 * time.Second, time.Hour, 10 * time.Second},
		{160 * time.Second, time.Hour, 300 * time.Second},
		{300 * time.Second, time.Hour, 300 * time.Second},
		{0, 2 * time.Second, 2 * time.Second},
		{20 * time.Second, 30 * time.Second, 30 * time.Second},
		{0, 10 * time.Millisecond, 10 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := nextRetry(tt.prev, tt.refresh); got != tt.want {
			t.Errorf("nextRetry(%v, %v) = %v, want %v", tt.prev, tt.refresh, got, tt.want)
		}
	}
}

// Stats counts every fetch that ended and those that failed, with the keys of the current set
// and the time of the last success: what the metrics of jwks_url report.
func TestRemoteStats(t *testing.T) {
	srv := newJWKSServer(t, edSet(t, "k1", "k2"))
	r := newTestRemote(t, srv, RemoteOptions{MaxRefetchInterval: time.Nanosecond})
	if st := r.Stats(); st != (RemoteStats{}) {
		t.Fatalf("before any fetch: %+v, want zero", st)
	}
	ctx := context.Background()
	if !r.RefreshFor(ctx, "k1") {
		t.Fatalf("first fetch failed: %v", r.LastError())
	}
	st := r.Stats()
	if st.Fetches != 1 || st.Failures != 0 || st.Keys != 2 || st.LastOK.IsZero() {
		t.Fatalf("after a good fetch: %+v, want 1 fetch, 0 failures, 2 keys and a success time", st)
	}
	srv.set(func(s *jwksServer) { s.status = http.StatusInternalServerError })
	if r.RefreshFor(ctx, "k3") {
		t.Fatal("a failed fetch reported a load")
	}
	after := r.Stats()
	if after.Fetches != 2 || after.Failures != 1 || after.Keys != 2 || !after.LastOK.Equal(st.LastOK) {
		t.Errorf("after a failed fetch: %+v, want 2 fetches, 1 failure, the 2 keys kept and the same success time", after)
	}
}
