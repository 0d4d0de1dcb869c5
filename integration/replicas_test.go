package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// The stories two instances of one issuer must tell alike, whatever they share (one storage
// folder, or one Redis): multi_instance_test.go and redis_test.go run them on each setup.

// rotatingSite is the site body these tests (and the reload tests) run: alice (user id 1) at an
// issuer at /api/token/ with refresh rotation and the issuer settings in extra (one per line),
// and /api/* behind a key-less jwt_auth that trusts it.
func rotatingSite(extra ...string) string {
	return `
	jwt_issuer /api/token/* {
		user alice ` + aliceHash + ` {
			claim user_id 1
		}
		rotate_refresh
		` + strings.Join(extra, "\n\t\t") + `
	}
	handle /api/* {
		jwt_auth
		respond "hello {http.auth.user.id}"
	}`
}

// sameKeys fails the test unless a and b publish one and the same non-empty JWK Set.
func sameKeys(t *testing.T, a, b *caddyServer) {
	t.Helper()
	jwksA, jwksB := get(t, a.URL+"/api/token/jwks.json"), get(t, b.URL+"/api/token/jwks.json")
	expect(t, "A's jwks.json", jwksA, http.StatusOK, "")
	expect(t, "B's jwks.json", jwksB, http.StatusOK, "")
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal([]byte(jwksA.Body), &set); err != nil || len(set.Keys) == 0 {
		t.Fatalf("A's jwks.json %s: no keys (%v)", jwksA.Body, err)
	}
	if jwksA.Body != jwksB.Body {
		t.Fatalf("the instances publish different keys:\nA %s\nB %s", jwksA.Body, jwksB.Body)
	}
}

// hello checks that tok is accepted on srv's /api/hello as alice's (user id 1).
func hello(t *testing.T, step string, srv *caddyServer, tok string) {
	t.Helper()
	expect(t, step, get(t, srv.URL+"/api/hello", bearer(tok)), http.StatusOK, "hello 1")
}

// sessionAcrossInstances: a user whose requests a load balancer spreads over a and b keeps one
// session: logged in on A, the access token works on B; refreshed on B, the new one works on A;
// logged out on A, the refresh token is refused on B (refresh and verify); the refresh token
// rotated out on B is refused when replayed on either; and neither logged a token.
func sessionAcrossInstances(t *testing.T, a, b *caddyServer) {
	t.Helper()
	access1, refresh1 := tokens(t, postJSON(t, a.URL+"/api/token/", credentials("alice", "alice-pw")))
	hello(t, "A's access token on B", b, access1)

	access2, refresh2 := tokens(t, postJSON(t, b.URL+"/api/token/refresh/", tokenField("refresh", refresh1)))
	if refresh2 == "" || refresh2 == refresh1 {
		t.Fatal("the refresh on B did not rotate the refresh token")
	}
	hello(t, "B's refreshed access token on A", a, access2)

	expect(t, "logout on A", postJSON(t, a.URL+"/api/token/blacklist/", tokenField("refresh", refresh2)),
		http.StatusOK, "{}")
	expect(t, "refresh on B after the logout on A", postJSON(t, b.URL+"/api/token/refresh/", tokenField("refresh", refresh2)),
		http.StatusUnauthorized, bodyBlacklisted)
	expect(t, "verify on B of the token logged out on A", postJSON(t, b.URL+"/api/token/verify/", tokenField("token", refresh2)),
		http.StatusUnauthorized, bodyBlacklisted)
	for name, srv := range map[string]*caddyServer{"A": a, "B": b} {
		expect(t, "replay on "+name+" of the refresh token rotated out on B",
			postJSON(t, srv.URL+"/api/token/refresh/", tokenField("refresh", refresh1)), http.StatusUnauthorized, bodyBlacklisted)
	}
	for name, srv := range map[string]*caddyServer{"A": a, "B": b} {
		log := srv.logText(t)
		for _, tok := range []string{access1, refresh1, access2, refresh2} {
			if strings.Contains(log, tok) || strings.Contains(log, tok[strings.LastIndex(tok, ".")+1:]) {
				t.Errorf("instance %s logged a token (or its signature)", name)
			}
		}
	}
}

// oneRefreshWins sends one refresh token 64 times at once, half to a and half to b (a stolen
// token raced against its owner's): exactly one refresh succeeds across both processes, the 63
// others are refused as blacklisted, the reuse revokes the family so that the winner's new
// refresh token is refused by both, and the reuse is logged. limit bounds the whole race.
//
// A loser that reaches the store after the winner finds the token used (a reuse, logged); one
// that comes after the family was revoked is refused before the rotation, unlogged. So at
// least one reuse is logged, on one instance or the other.
func oneRefreshWins(t *testing.T, a, b *caddyServer, limit time.Duration) {
	t.Helper()
	_, refresh := tokens(t, postJSON(t, a.URL+"/api/token/", credentials("alice", "alice-pw")))
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	transport := &http.Transport{MaxIdleConnsPerHost: 64}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: limit}
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
		instance    = func(i int) (*caddyServer, string) {
			if i%2 == 0 {
				return a, "A"
			}
			return b, "B"
		}
	)
	for i := range n {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			srv, _ := instance(i)
			ready.Done()
			<-start
			results[i], errs[i] = send(srv.URL + "/api/token/refresh/")
		}()
	}
	ready.Wait()
	began := time.Now()
	close(start)
	done.Wait()
	t.Logf("%d concurrent refreshes across two instances took %s", n, time.Since(began).Round(time.Millisecond))

	winner, refused := -1, 0
	for i, res := range results {
		_, name := instance(i)
		switch {
		case errs[i] != nil:
			t.Errorf("refresh %d (on %s): %v", i, name, errs[i])
		case res.Status == http.StatusOK:
			if winner >= 0 {
				t.Errorf("refresh %d (on %s) succeeded as well as refresh %d", i, name, winner)
				continue
			}
			winner = i
			t.Logf("the winning refresh was sent to instance %s", name)
		case res.Status == http.StatusUnauthorized && res.Body == bodyBlacklisted:
			refused++
		default:
			t.Errorf("losing refresh %d (on %s) answered %d %s, want 401 %s", i, name, res.Status, res.Body, bodyBlacklisted)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	if winner < 0 || refused != n-1 {
		t.Fatalf("%d winner (index %d) and %d refused as blacklisted, want 1 and %d", min(winner+1, 1), winner, refused, n-1)
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
	const reuse = "refresh token reuse detected"
	countA, countB := strings.Count(a.logText(t), reuse), strings.Count(b.logText(t), reuse)
	t.Logf("reuse logged %d times on A, %d on B", countA, countB)
	if countA+countB == 0 {
		t.Errorf("neither instance logged %q", reuse)
	}
}
