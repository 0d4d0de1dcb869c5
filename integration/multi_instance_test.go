package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// replicaSite is the site body of both replicas: one issuer at /api/token/ (a generated ES256
// key kept in the storage, refresh rotation on, no login throttling) and /api/* behind a
// jwt_auth that trusts it.
const replicaSite = `
	jwt_issuer /api/token/* {
		user alice ` + aliceHash + ` {
			claim user_id 1
		}
		rotate_refresh
		login_limit off
	}
	handle /api/* {
		jwt_auth
		respond "hello {http.auth.user.id}"
	}`

// startReplicas runs two Caddy processes with replicaSite, as two replicas behind a load
// balancer are: each has its own HTTP and admin port, and both use one file_system storage
// folder (A's). A starts first and generates the signing key there; B, started once A answers,
// loads it. It fails the test unless both publish the same JWK Set.
func startReplicas(t *testing.T) (a, b *caddyServer) {
	t.Helper()
	instA := newCaddyInstance(t)
	a = instA.start(t, replicaSite)
	if !eventually(10*time.Second, func() bool {
		return get(t, a.URL+"/api/token/jwks.json").Status == http.StatusOK
	}) {
		t.Fatal("replica A does not serve its jwks.json")
	}

	instB := newCaddyInstance(t)
	ownStorage := "storage file_system " + filepath.Join(instB.dir, "storage") + "\n"
	sharedStorage := "storage file_system " + filepath.Join(instA.dir, "storage") + "\n"
	caddyfileB := instB.caddyfile(replicaSite)
	if strings.Count(caddyfileB, ownStorage) != 1 {
		t.Fatalf("the harness's global block has no single %q line to point at A's storage:\n%s", ownStorage, caddyfileB)
	}
	b = instB.startCaddyfile(t, strings.Replace(caddyfileB, ownStorage, sharedStorage, 1))

	jwksA, jwksB := get(t, a.URL+"/api/token/jwks.json"), get(t, b.URL+"/api/token/jwks.json")
	expect(t, "replica B's jwks.json", jwksB, http.StatusOK, "")
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal([]byte(jwksA.Body), &set); err != nil || len(set.Keys) == 0 {
		t.Fatalf("replica A's jwks.json %s: no keys (%v)", jwksA.Body, err)
	}
	if jwksA.Body != jwksB.Body {
		t.Fatalf("the replicas publish different keys:\nA %s\nB %s", jwksA.Body, jwksB.Body)
	}
	return a, b
}

// TestSessionAcrossInstances: a user whose requests a load balancer spreads over two replicas
// sharing one storage keeps one session: logged in on A, the access token works on B; refreshed
// on B, the new access token works on A; logged out on A, the refresh token is refused on B; and
// the refresh token rotated out on B is refused when replayed there.
func TestSessionAcrossInstances(t *testing.T) {
	t.Parallel()
	a, b := startReplicas(t)
	hello := func(step string, srv *caddyServer, tok string) {
		t.Helper()
		expect(t, step, get(t, srv.URL+"/api/hello", bearer(tok)), http.StatusOK, "hello 1")
	}

	access1, refresh1 := tokens(t, postJSON(t, a.URL+"/api/token/", credentials("alice", "alice-pw")))
	hello("A's access token on B", b, access1)

	access2, refresh2 := tokens(t, postJSON(t, b.URL+"/api/token/refresh/", tokenField("refresh", refresh1)))
	if refresh2 == "" || refresh2 == refresh1 {
		t.Fatal("the refresh on B did not rotate the refresh token")
	}
	hello("B's refreshed access token on A", a, access2)

	expect(t, "logout on A", postJSON(t, a.URL+"/api/token/blacklist/", tokenField("refresh", refresh2)),
		http.StatusOK, "{}")
	expect(t, "refresh on B after the logout on A", postJSON(t, b.URL+"/api/token/refresh/", tokenField("refresh", refresh2)),
		http.StatusUnauthorized, bodyBlacklisted)
	expect(t, "verify on B of the token logged out on A", postJSON(t, b.URL+"/api/token/verify/", tokenField("token", refresh2)),
		http.StatusUnauthorized, bodyBlacklisted)
	expect(t, "replay on B of the refresh token rotated out", postJSON(t, b.URL+"/api/token/refresh/", tokenField("refresh", refresh1)),
		http.StatusUnauthorized, bodyBlacklisted)

	// Neither replica logged a token.
	for name, srv := range map[string]*caddyServer{"A": a, "B": b} {
		log := srv.logText(t)
		for _, tok := range []string{access1, refresh1, access2, refresh2} {
			if strings.Contains(log, tok) || strings.Contains(log, tok[strings.LastIndex(tok, ".")+1:]) {
				t.Errorf("replica %s logged a token (or its signature)", name)
			}
		}
	}
}

// TestConcurrentRefreshAcrossInstances: one refresh token sent 64 times at once, half to each
// of two replicas sharing one storage (a stolen token raced against its owner's, say): exactly
// one refresh succeeds across both processes, the 63 others are reuse, which revokes the
// family, so that the winner's new refresh token is refused by both replicas, and each replica
// logs the reuse.
func TestConcurrentRefreshAcrossInstances(t *testing.T) {
	t.Parallel()
	a, b := startReplicas(t)
	_, refresh := tokens(t, postJSON(t, a.URL+"/api/token/", credentials("alice", "alice-pw")))

	// Caddy's file storage polls a held lock about once a second; 60 s bounds the whole race.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	transport := &http.Transport{MaxIdleConnsPerHost: 64}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 60 * time.Second}
	send := func(url string) (response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(tokenField("refresh", refresh)))
		if err != nil {
			return response{}, err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return response{}, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return response{Status: resp.StatusCode, Header: resp.Header, Body: string(body)}, err
	}

	const n = 64
	var (
		ready, done sync.WaitGroup
		start       = make(chan struct{})
		results     = make([]response, n)
		errs        = make([]error, n)
		replica     = func(i int) *caddyServer {
			if i%2 == 0 {
				return a
			}
			return b
		}
	)
	for i := range n {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			results[i], errs[i] = send(replica(i).URL + "/api/token/refresh/")
		}()
	}
	ready.Wait()
	began := time.Now()
	close(start)
	done.Wait()
	took := time.Since(began)
	t.Logf("%d concurrent refreshes across two replicas took %s", n, took.Round(time.Millisecond))

	winner := -1
	for i, r := range results {
		name := "A"
		if replica(i) == b {
			name = "B"
		}
		switch {
		case errs[i] != nil:
			t.Errorf("refresh %d (on %s): %v", i, name, errs[i])
		case r.Status == http.StatusOK:
			if winner >= 0 {
				t.Errorf("refresh %d (on %s) succeeded as well as refresh %d", i, name, winner)
				continue
			}
			winner = i
			t.Logf("the winning refresh was sent to replica %s", name)
		case r.Status != http.StatusUnauthorized || r.Body != bodyBlacklisted:
			t.Errorf("losing refresh %d (on %s) answered %d %s, want 401 %s", i, name, r.Status, r.Body, bodyBlacklisted)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	if winner < 0 {
		t.Fatalf("none of %d concurrent refreshes succeeded, want exactly 1", n)
	}
	_, next := tokens(t, results[winner])
	if next == "" || next == refresh {
		t.Fatal("the winning refresh did not rotate the refresh token")
	}
	for name, srv := range map[string]*caddyServer{"A": a, "B": b} {
		expect(t, fmt.Sprintf("the winner's refresh token on %s after the reuse", name),
			postJSON(t, srv.URL+"/api/token/refresh/", tokenField("refresh", next)),
			http.StatusUnauthorized, bodyBlacklisted)
	}
	// Both replicas had losers (32 requests each, one winner in all), and every loser is reuse.
	for name, srv := range map[string]*caddyServer{"A": a, "B": b} {
		if !strings.Contains(srv.logText(t), "refresh token reuse detected") {
			t.Errorf("replica %s did not log the refresh token reuse", name)
		}
	}
}
