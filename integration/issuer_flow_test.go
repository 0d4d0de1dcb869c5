package integration

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// issuerSite is a site that logs users in at /api/token/ (a generated ES256 key kept in the
// storage, refresh rotation on) and protects /api/* with a jwt_auth that has no key settings.
const issuerSite = `
	jwt_issuer /api/token/* {
		user alice ` + aliceHash + ` {
			claim user_id 1
		}
		user bob ` + bobHash + `
		rotate_refresh
	}
	handle /api/* {
		jwt_auth
		respond "hello {http.auth.user.id}"
	}`

// TestIssuerLifecycle follows one session through login, use, refresh with rotation, reuse of a
// rotated token (the family is revoked) and logout, restarting Caddy on the same storage
// between every two steps: the signing key, the used tokens, the revoked families and the
// blacklist all survive.
func TestIssuerLifecycle(t *testing.T) {
	t.Parallel()
	inst := newCaddyInstance(t)
	srv := inst.start(t, issuerSite)
	hello := func(step, tok string) {
		t.Helper()
		expect(t, step, get(t, srv.URL+"/api/hello", bearer(tok)), http.StatusOK, "hello 1")
	}

	// Step 1: login and use.
	expect(t, "no token", get(t, srv.URL+"/api/hello"), http.StatusUnauthorized, `{"detail":"Authentication credentials were not provided."}`)
	access1, refresh1 := tokens(t, postJSON(t, srv.URL+"/api/token/", credentials("alice", "alice-pw")))
	hello("access token", access1)
	r := get(t, srv.URL+"/api/hello", bearer(refresh1))
	requireContains(t, "refresh token as access token", r.Body, "Token has wrong type")

	// Step 2, after a restart: the key is the same; refresh rotates.
	srv = inst.restart(t, srv, issuerSite)
	hello("access token after restart", access1)
	access2, refresh2 := tokens(t, postJSON(t, srv.URL+"/api/token/refresh/", tokenField("refresh", refresh1)))
	if refresh2 == "" || refresh2 == refresh1 {
		t.Fatal("refresh did not rotate the refresh token")
	}
	hello("access token from refresh", access2)

	// Step 3, after a restart: the used token is remembered; presenting it is reuse, which
	// revokes its family.
	srv = inst.restart(t, srv, issuerSite)
	expect(t, "reuse of a rotated token", postJSON(t, srv.URL+"/api/token/refresh/", tokenField("refresh", refresh1)),
		http.StatusUnauthorized, bodyBlacklisted)
	if log := srv.logText(t); !strings.Contains(log, "refresh token reuse detected") {
		t.Error("reuse was not logged as a security event")
	}

	// Step 4, after a restart: the family stays revoked, its newest token with it.
	srv = inst.restart(t, srv, issuerSite)
	expect(t, "successor after reuse", postJSON(t, srv.URL+"/api/token/refresh/", tokenField("refresh", refresh2)),
		http.StatusUnauthorized, bodyBlacklisted)
	expect(t, "verify successor", postJSON(t, srv.URL+"/api/token/verify/", tokenField("token", refresh2)),
		http.StatusUnauthorized, bodyBlacklisted)

	// Step 5: a new login is a new family; logout (blacklist) survives a restart.
	_, refresh3 := tokens(t, postJSON(t, srv.URL+"/api/token/", credentials("alice", "alice-pw")))
	expect(t, "blacklist", postJSON(t, srv.URL+"/api/token/blacklist/", tokenField("refresh", refresh3)), http.StatusOK, "{}")
	srv = inst.restart(t, srv, issuerSite)
	expect(t, "refresh after logout", postJSON(t, srv.URL+"/api/token/refresh/", tokenField("refresh", refresh3)),
		http.StatusUnauthorized, bodyBlacklisted)

	// Nothing the server logged holds a token.
	log := srv.logText(t)
	for _, tok := range []string{access1, refresh1, access2, refresh2, refresh3} {
		if strings.Contains(log, tok) || strings.Contains(log, strings.Split(tok, ".")[2]) {
			t.Error("a token (or its signature) was logged")
		}
	}
}

// TestIssuerConcurrentRefresh sends one rotating refresh token 64 times at once: exactly one
// refresh succeeds, and the others are reuse, which revokes the family, the winner's new
// refresh token included.
func TestIssuerConcurrentRefresh(t *testing.T) {
	t.Parallel()
	srv := newCaddyInstance(t).start(t, issuerSite)
	_, refresh := tokens(t, postJSON(t, srv.URL+"/api/token/", credentials("bob", "bob-pw")))

	const n = 64
	var (
		wg      sync.WaitGroup
		results = make([]response, n)
		start   = make(chan struct{})
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i] = postJSON(t, srv.URL+"/api/token/refresh/", tokenField("refresh", refresh))
		}()
	}
	close(start)
	wg.Wait()

	var winners []response
	for _, r := range results {
		switch {
		case r.Status == http.StatusOK:
			winners = append(winners, r)
		case r.Status != http.StatusUnauthorized || r.Body != bodyBlacklisted:
			t.Errorf("a losing refresh answered %d %s, want 401 %s", r.Status, r.Body, bodyBlacklisted)
		}
	}
	if len(winners) != 1 {
		t.Fatalf("%d of %d concurrent refreshes succeeded, want exactly 1", len(winners), n)
	}
	_, next := tokens(t, winners[0])
	expect(t, "the winner's refresh token after the reuse", postJSON(t, srv.URL+"/api/token/refresh/", tokenField("refresh", next)),
		http.StatusUnauthorized, bodyBlacklisted)
}

// TestIssuerZeroConfigAcrossReloads: a jwt_auth without key settings trusts the jwt_issuer of
// the same Caddy, through reloads that keep it; once a reload drops the issuer, tokens are
// refused (no_keys_loaded), and Caddy warns at provision.
func TestIssuerZeroConfigAcrossReloads(t *testing.T) {
	t.Parallel()
	inst := newCaddyInstance(t)
	srv := inst.start(t, issuerSite)
	access, _ := tokens(t, postJSON(t, srv.URL+"/api/token/", credentials("alice", "alice-pw")))

	// Caddy itself may drop a connection in a reload (see loadClient): the kept-alive one, or a
	// new one still queued on the old socket. So a request right after a reload goes through
	// loadClient, which sends it again on a new connection when it got no answer at all.
	client := newLoadClient(t)
	hello := func() response {
		t.Helper()
		r, err := client.send(http.MethodGet, srv.URL+"/api/hello", bearer(access), "")
		if err != nil {
			t.Fatalf("GET /api/hello after a reload: %v", err)
		}
		return r
	}

	for i := range 2 {
		// A config that differs (Caddy skips loading an unchanged one).
		inst.reload(t, srv, issuerSite+"\n\trespond /reload-"+strconv.Itoa(i)+" 204")
		expect(t, "after a reload keeping the issuer", hello(), http.StatusOK, "hello 1")
	}
	if log := srv.logText(t); strings.Contains(log, "no jwt_issuer is loaded") {
		t.Error("warned about a missing issuer while one was configured")
	}

	const withoutIssuer = `
	handle /api/* {
		jwt_auth
		respond "hello {http.auth.user.id}"
	}`
	noKeys := func(what string, r response) {
		t.Helper()
		if r.Status != http.StatusUnauthorized || !strings.Contains(r.Header.Get("WWW-Authenticate"), "no verification keys are loaded") {
			t.Errorf("%s: %d %q, want 401 with no keys loaded", what, r.Status, r.Header.Get("WWW-Authenticate"))
		}
	}
	inst.reload(t, srv, withoutIssuer)
	noKeys("after a reload dropping the issuer", hello())
	t.Logf("%d requests sent again after Caddy dropped the connection in a reload", client.lost.Load())

	// Started without any issuer: refused, and Caddy says why at startup.
	srv = inst.restart(t, srv, withoutIssuer)
	noKeys("started without an issuer", get(t, srv.URL+"/api/hello", bearer(access)))
	if log := srv.logText(t); !strings.Contains(log, "jwt_auth has no key settings and no jwt_issuer is loaded") {
		t.Error("no warning at provision of a jwt_auth without keys or issuer")
	}
}
