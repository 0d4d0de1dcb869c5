package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// reloadSite is issuerSite without login limits (the load below logs in more often than the
// default 20 a minute allows) plus a route that makes each reload's config differ (Caddy skips
// loading an unchanged one).
func reloadSite(i int) string {
	return rotatingSite("login_limit off") + "\n\trespond /reload-" + strconv.Itoa(i) + " 204"
}

// loadClient sends the requests of the load over kept-alive connections, as browsers and API
// clients do.
//
// Caddy itself (v2.11.9 on Linux, checked with a plain `respond` site and no Gatehouse) loses a
// few connections in every reload: each config listens on a new SO_REUSEPORT socket and closes
// the old one, and the kernel resets the connections still queued on the old one; a kept-alive
// connection can also be closed by the old server just as a request goes out. Clients see
// "connection reset by peer" or EOF, and net/http sends such a request again only when it is an
// idempotent one on a reused connection. So send retries a request that got no answer at all,
// on a new connection, at most twice, and counts how often; the final answer must be the
// expected one. For a refresh this proves the lost attempt never reached the issuer: had it
// been served, the token would be used up and the retry a replay, answered 401 with the family
// revoked.
type loadClient struct {
	keepAlive, fresh *http.Client
	lost             atomic.Int64 // requests that got no answer and were sent again
}

func newLoadClient(t *testing.T) *loadClient {
	keepAlive := &http.Transport{MaxIdleConnsPerHost: 8}
	t.Cleanup(keepAlive.CloseIdleConnections)
	return &loadClient{
		keepAlive: &http.Client{Transport: keepAlive, Timeout: 15 * time.Second},
		fresh:     &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 15 * time.Second},
	}
}

// send is do/postJSON for goroutines other than the test's: it returns errors instead of
// failing the test. A POST body is JSON; header is one "Name: value" line or "".
func (c *loadClient) send(method, url, header, body string) (response, error) {
	var err error
	for attempt, client := range []*http.Client{c.keepAlive, c.fresh, c.fresh} {
		if attempt > 0 {
			c.lost.Add(1)
		}
		var r response
		if r, err = c.once(client, method, url, header, body); err == nil {
			return r, nil
		}
	}
	return response{}, fmt.Errorf("no answer in 3 attempts: %w", err)
}

func (c *loadClient) once(client *http.Client, method, url, header, body string) (response, error) {
	var rd io.Reader
	if method == http.MethodPost {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return response{}, err
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	if header != "" {
		name, value, _ := strings.Cut(header, ": ")
		req.Header.Set(name, value)
	}
	resp, err := client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, fmt.Errorf("reading the body: %w", err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}, nil
}

// tokenPair decodes a 200 {"access","refresh"} answer; both must be there.
func tokenPair(r response) (access, refresh string, err error) {
	var p struct{ Access, Refresh string }
	if r.Status != http.StatusOK {
		return "", "", fmt.Errorf("status %d, want 200; body %s", r.Status, r.Body)
	}
	if err := json.Unmarshal([]byte(r.Body), &p); err != nil || p.Access == "" || p.Refresh == "" {
		return "", "", fmt.Errorf("token answer %q: want access and refresh (%v)", r.Body, err)
	}
	return p.Access, p.Refresh, nil
}

// TestReloadUnderLoad reloads the config through the admin API (POST /load, as `caddy reload`
// does) ten times while goroutines send requests: protected GETs with an access token minted
// before the reloads, and sessions that log in, refresh with rotation and use the new tokens,
// across the reloads. Every request gets its expected answer (after at most two retries of a
// request Caddy dropped unanswered, see loadClient; three drops in a row are a failure), and
// the issuer's state survives: the signing key (same jwks.json, old access tokens valid), a
// refresh token from before, the blacklist, and the used-up mark of a rotated-out token, whose
// replay after the reloads still revokes its family.
func TestReloadUnderLoad(t *testing.T) {
	t.Parallel()
	inst := newCaddyInstance(t)
	srv := inst.start(t, reloadSite(0))
	api := srv.URL + "/api/token"

	// State from before the reloads.
	jwksBefore := get(t, api+"/jwks.json")
	expect(t, "jwks.json", jwksBefore, http.StatusOK, "")
	access0, refresh0 := tokens(t, postJSON(t, api+"/", credentials("alice", "alice-pw")))
	_, blacklisted := tokens(t, postJSON(t, api+"/", credentials("alice", "alice-pw")))
	expect(t, "blacklist", postJSON(t, api+"/blacklist/", tokenField("refresh", blacklisted)), http.StatusOK, "{}")
	_, rotatedOut := tokens(t, postJSON(t, api+"/", credentials("alice", "alice-pw")))
	_, successor := tokens(t, postJSON(t, api+"/refresh/", tokenField("refresh", rotatedOut)))

	const (
		verifiers, sessions = 2, 2
		maxGets             = 3000 // per verifier: bounds the load whatever happens
		maxSessions         = 300  // per session goroutine
		reloads             = 10
	)
	var (
		client   = newLoadClient(t)
		wg       sync.WaitGroup
		stop     = make(chan struct{})
		stopOnce sync.Once
		started  sync.WaitGroup // each worker has had one answer
		phase    atomic.Int64   // 2 per reload: odd while one is under way
		during   atomic.Int64   // requests that overlapped a reload
		total    atomic.Int64
		mu       sync.Mutex
		failures []string // the first 20
		failed   int
	)
	halt := func() { stopOnce.Do(func() { close(stop) }); wg.Wait() }
	t.Cleanup(halt) // before Caddy is stopped (cleanups run last first)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		failed++
		if len(failures) < 20 {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
	}
	// request sends one request of the load and counts it; ok says whether to go on.
	request := func(what, method, url, header, body string) (response, bool) {
		before := phase.Load()
		r, err := client.send(method, url, header, body)
		total.Add(1)
		if before%2 == 1 || phase.Load() != before {
			during.Add(1)
		}
		if err != nil {
			fail("%s: %v", what, err)
			return r, false
		}
		return r, true
	}
	stopped := func() bool {
		select {
		case <-stop:
			return true
		default:
			return false
		}
	}

	for range verifiers {
		wg.Add(1)
		started.Add(1)
		go func() {
			defer wg.Done()
			first := true
			for i := 0; i < maxGets && !stopped(); i++ {
				r, ok := request("GET with the access token from before", http.MethodGet, srv.URL+"/api/hello", bearer(access0), "")
				if first {
					started.Done()
					first = false
				}
				if !ok {
					continue
				}
				if r.Status != http.StatusOK || r.Body != "hello 1" {
					fail("GET with the access token from before: %d %q, want 200 %q", r.Status, r.Body, "hello 1")
				}
			}
			if first {
				started.Done()
			}
		}()
	}
	for range sessions {
		wg.Add(1)
		started.Add(1)
		go func() {
			defer wg.Done()
			first := true
			defer func() {
				if first {
					started.Done()
				}
			}()
			for i := 0; i < maxSessions && !stopped(); i++ {
				r, ok := request("login", http.MethodPost, api+"/", "", credentials("alice", "alice-pw"))
				if !ok {
					continue
				}
				access, refresh, err := tokenPair(r)
				if err != nil {
					fail("login: %v", err)
					continue
				}
				for step := 0; step < 2; step++ {
					if r, ok := request("GET with a session's access token", http.MethodGet, srv.URL+"/api/hello", bearer(access), ""); ok &&
						(r.Status != http.StatusOK || r.Body != "hello 1") {
						fail("GET with a session's access token: %d %q, want 200 %q", r.Status, r.Body, "hello 1")
					}
					r, ok := request("refresh", http.MethodPost, api+"/refresh/", "", tokenField("refresh", refresh))
					if !ok {
						break
					}
					if access, refresh, err = tokenPair(r); err != nil {
						fail("refresh %d of a session: %v", step+1, err)
						break
					}
				}
				if first {
					started.Done()
					first = false
				}
			}
		}()
	}

	started.Wait()
	start := time.Now()
	for i := 1; i <= reloads; i++ {
		phase.Add(1)
		inst.reload(t, srv, reloadSite(i))
		phase.Add(1)
		time.Sleep(50 * time.Millisecond) // some load between reloads, on the new config
	}
	reloadTime := time.Since(start)
	halt()

	for _, f := range failures {
		t.Error(f)
	}
	if failed > len(failures) {
		t.Errorf("and %d more failed requests", failed-len(failures))
	}
	t.Logf("%d requests, %d of them overlapping one of %d reloads (%s in all); %d sent again after Caddy dropped the connection",
		total.Load(), during.Load(), reloads, reloadTime, client.lost.Load())
	if during.Load() == 0 {
		t.Error("no request overlapped a reload: the load did not test them")
	}
	if got := get(t, srv.URL+"/reload-"+strconv.Itoa(reloads)); got.Status != http.StatusNoContent {
		t.Errorf("the last config is not the one running: GET /reload-%d = %d, want 204", reloads, got.Status)
	}

	// The state from before the reloads is all there.
	expect(t, "jwks.json after the reloads (same keys)", get(t, api+"/jwks.json"), http.StatusOK, jwksBefore.Body)
	expect(t, "access token from before", get(t, srv.URL+"/api/hello", bearer(access0)), http.StatusOK, "hello 1")
	if _, next := tokens(t, postJSON(t, api+"/refresh/", tokenField("refresh", refresh0))); next == "" {
		t.Error("refresh of a token from before returned no refresh token")
	}
	expect(t, "blacklisted before the reloads", postJSON(t, api+"/refresh/", tokenField("refresh", blacklisted)),
		http.StatusUnauthorized, bodyBlacklisted)
	expect(t, "replay of a token rotated out before the reloads", postJSON(t, api+"/refresh/", tokenField("refresh", rotatedOut)),
		http.StatusUnauthorized, bodyBlacklisted)
	expect(t, "its successor, revoked with the family by the replay", postJSON(t, api+"/refresh/", tokenField("refresh", successor)),
		http.StatusUnauthorized, bodyBlacklisted)
	if log := srv.logText(t); !strings.Contains(log, "refresh token reuse detected") {
		t.Error("the replay after the reloads was not logged as reuse")
	}
}

// TestReloadKeepsRequestsInFlight: a request the old configuration is still serving when a
// reload finishes is authenticated by the old configuration's issuers. Caddy starts the new
// configuration, stops the old one's servers without waiting for their requests (the grace
// period lets them finish) and cleans its modules up at once; the request here is held in a
// forward_auth to a slow upstream before it reaches jwt_auth (route keeps that order), so
// jwt_auth runs after that cleanup.
func TestReloadKeepsRequestsInFlight(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	var releaseOnce sync.Once
	let := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(let)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case entered <- struct{}{}:
		default:
		}
		select {
		case <-release:
		case <-time.After(10 * time.Second):
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(slow.Close)
	site := func(i int) string {
		return reloadSite(i) + `
	route /slow/* {
		forward_auth ` + slow.URL + ` {
			uri /check
		}
		jwt_auth
		respond "slow {http.auth.user.id}"
	}`
	}
	inst := newCaddyInstance(t)
	srv := inst.start(t, site(0))
	access, _ := tokens(t, postJSON(t, srv.URL+"/api/token/", credentials("alice", "alice-pw")))

	answer := make(chan response, 1)
	go func() {
		r, err := newLoadClient(t).once(&http.Client{Timeout: 15 * time.Second}, http.MethodGet, srv.URL+"/slow/x", bearer(access), "")
		if err != nil {
			r = response{Body: err.Error()}
		}
		answer <- r
	}()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the request never reached the slow upstream")
	}
	inst.reload(t, srv, site(1)) // returns once the old configuration is stopped and cleaned up
	let()
	expect(t, "request in flight across the reload", <-answer, http.StatusOK, "slow 1")
	expect(t, "request on the new configuration", get(t, srv.URL+"/api/hello", bearer(access)), http.StatusOK, "hello 1")
}

// TestReloadDoesNotResetLoginLimits: an attacker cannot get a fresh login budget by waiting for
// (or causing) a config reload: the counts of an issuer live on across reloads of the same
// settings.
func TestReloadDoesNotResetLoginLimits(t *testing.T) {
	t.Parallel()
	site := func(i int) string {
		return `
	jwt_issuer /api/token/* {
		user alice ` + aliceHash + `
		login_limit 3 per 1h
	}
	respond /reload-` + strconv.Itoa(i) + ` 204`
	}
	inst := newCaddyInstance(t)
	srv := inst.start(t, site(0))
	login := srv.URL + "/api/token/"
	for i := range 3 {
		if r := postJSON(t, login, credentials("alice", "wrong")); r.Status != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d, want 401", i+1, r.Status)
		}
	}
	inst.reload(t, srv, site(1))
	if r := get(t, srv.URL+"/reload-1"); r.Status != http.StatusNoContent {
		t.Fatalf("the reload did not take: %d", r.Status)
	}
	r := postJSON(t, login, credentials("alice", "wrong"))
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Fatalf("fourth attempt after the reload: %d (Retry-After %q), want 429", r.Status, r.Header.Get("Retry-After"))
	}
}
