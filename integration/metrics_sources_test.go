package integration

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// expectMetrics checks that each series of want is exported with its value.
func expectMetrics(t *testing.T, when string, got, want map[string]float64) {
	t.Helper()
	for s, v := range want {
		if g, ok := got[s]; !ok {
			t.Errorf("%s: %s is not exported", when, s)
		} else if g != v {
			t.Errorf("%s: %s = %v, want %v", when, s, g, v)
		}
	}
}

// storeSeries is a store series of the default issuer on backend, for operation.
func storeSeries(name, backend, op string) string {
	return name + `{backend="` + backend + `",issuer="default",operation="` + op + `"}`
}

// keysSite is an issuer whose generated key rotates every minute (the shortest interval), with
// short-lived tokens, and two jwt_auth handlers: one trusting a remote JWK Set (jwks_url), one
// the issuer of the site.
func keysSite(jwksURL string) string {
	return `
	jwt_issuer /api/token/* {
		user alice ` + aliceHash + ` {
			claim user_id 1
		}
		rotate_refresh
		rotate_keys 1m
		access_ttl 2s
		refresh_ttl 2s
	}
	handle /remote/* {
		jwt_auth {
			jwks_url ` + jwksURL + `
		}
		respond "remote {http.auth.user.id}"
	}
	handle /own/* {
		jwt_auth
		respond "own {http.auth.user.id}"
	}
	respond 404`
}

// TestMetricsCountKeysCacheAndStore: through a real Caddy, the series of the remote JWK Set
// (fetches, failures, keys), of each jwt_auth's verified-token cache (by its Caddyfile line),
// of the issuer's state store on Caddy's file storage (latency by operation) and of its key
// ring (keys, rotations) move when their events happen: the fetch at start, a fetch that fails
// (the JWKS endpoint answers 500 to the refetch an unknown kid triggers), a token sent twice (a
// miss, then a hit), a refresh (the revocation check and rotation), a refresh token that
// expired, and a key whose rotation came due while Caddy was down (rotated at start).
func TestMetricsCountKeysCacheAndStore(t *testing.T) {
	t.Parallel()
	key := mustEC()
	js := newJWKSServer(t, jwks(t, jwkOf(t, "k1", &key.PublicKey)))
	js.start(t)
	inst := newCaddyInstance(t)
	site := "http://:PORT {\n" + keysSite(js.URL()) + "\n}\n"
	srv := inst.startSites(t, site, "\tmetrics\n")

	// The series of the two jwt_auth handlers are named after their Caddyfile lines.
	remoteHandler, ownHandler := handlerLines(t, filepath.Join(inst.dir, "Caddyfile"))
	source := `source="` + strings.TrimPrefix(js.URL(), "http://") + `"`
	cache := func(name, handler string) string { return name + "{" + handler + "}" }
	jwksS := func(name string) string { return name + "{" + source + "}" }
	var got map[string]float64
	if !eventually(10*time.Second, func() bool {
		got, _ = scrape(t, srv)
		return got[jwksS("gatehouse_jwks_fetches_total")] == 1
	}) {
		t.Fatalf("the fetch at start is not counted: %s = %v", jwksS("gatehouse_jwks_fetches_total"), got[jwksS("gatehouse_jwks_fetches_total")])
	}
	want := map[string]float64{
		jwksS("gatehouse_jwks_fetch_failures_total"): 0, jwksS("gatehouse_jwks_keys"): 1,
		`gatehouse_issuer_signing_keys{issuer="default"}`:        1,
		`gatehouse_issuer_key_rotations_total{issuer="default"}`: 0,
	}
	for _, h := range []string{remoteHandler, ownHandler} {
		want[cache("gatehouse_jwt_auth_cache_hits_total", h)] = 0
		want[cache("gatehouse_jwt_auth_cache_misses_total", h)] = 0
		want[cache("gatehouse_jwt_auth_cache_entries", h)] = 0
		want[cache("gatehouse_jwt_auth_cache_capacity", h)] = 10000
	}
	for _, op := range []string{"check", "revoke", "revoke_family", "rotate", "purge"} {
		want[storeSeries("gatehouse_issuer_store_duration_seconds_count", "storage", op)] = 0
	}
	for _, op := range []string{"check", "revoke", "revoke_family", "rotate", "purge", "keys_load", "keys_store", "keys_lock", "keys_unlock"} {
		want[storeSeries("gatehouse_issuer_store_errors_total", "storage", op)] = 0
	}
	expectMetrics(t, "after start", got, want)
	if ts := got[jwksS("gatehouse_jwks_last_success_timestamp_seconds")]; ts < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("last JWKS success at %v, not within the last minute", ts)
	}
	// The key ring was created at start: read (missing), locked, stored, unlocked.
	for _, op := range []string{"keys_load", "keys_lock", "keys_store", "keys_unlock"} {
		if n := got[storeSeries("gatehouse_issuer_store_duration_seconds_count", "storage", op)]; n < 1 {
			t.Errorf("the key ring's %s at start is not timed (count %v)", op, n)
		}
	}

	// A remote token sent twice: verified, then answered from the cache.
	tok := esToken(t, key, "k1")
	for range 2 {
		if r := get(t, srv.URL+"/remote/", bearer(tok)); r.Status != http.StatusOK || r.Body != "remote alice" {
			t.Fatalf("remote token: %d %q", r.Status, r.Body)
		}
	}
	// An unknown kid makes Caddy fetch the set again, and the endpoint fails.
	js.mode.Store(jwksError)
	if r := get(t, srv.URL+"/remote/", bearer(esToken(t, mustEC(), "k2"))); r.Status != http.StatusUnauthorized {
		t.Fatalf("a token of an unknown kid with the JWKS endpoint down: %d", r.Status)
	}
	// The issuer: a login, a page with its access token, a refresh with rotation.
	access, refresh := tokens(t, postJSON(t, srv.URL+"/api/token/", credentials("alice", "alice-pw")))
	if r := get(t, srv.URL+"/own/", bearer(access)); r.Status != http.StatusOK || r.Body != "own 1" {
		t.Fatalf("the issuer's token: %d %q", r.Status, r.Body)
	}
	_, refresh2 := tokens(t, postJSON(t, srv.URL+"/api/token/refresh/", tokenField("refresh", refresh)))
	got, _ = scrape(t, srv)
	expectMetrics(t, "after the requests", got, map[string]float64{
		jwksS("gatehouse_jwks_fetches_total"): 2, jwksS("gatehouse_jwks_fetch_failures_total"): 1, jwksS("gatehouse_jwks_keys"): 1,
		cache("gatehouse_jwt_auth_cache_misses_total", remoteHandler):                     2, // the first sending, the unknown kid
		cache("gatehouse_jwt_auth_cache_hits_total", remoteHandler):                       1,
		cache("gatehouse_jwt_auth_cache_entries", remoteHandler):                          1,
		cache("gatehouse_jwt_auth_cache_misses_total", ownHandler):                        1,
		cache("gatehouse_jwt_auth_cache_hits_total", ownHandler):                          0,
		storeSeries("gatehouse_issuer_store_duration_seconds_count", "storage", "check"):  1,
		storeSeries("gatehouse_issuer_store_duration_seconds_count", "storage", "rotate"): 1,
		storeSeries("gatehouse_issuer_store_errors_total", "storage", "check"):            0,
		`gatehouse_issuer_refreshes_total{issuer="default",outcome="rotated"}`:            1,
	})

	// The rotated refresh token expires (refresh_ttl 2s; exp is in whole seconds).
	time.Sleep(3 * time.Second)
	expect(t, "an expired refresh token", postJSON(t, srv.URL+"/api/token/refresh/", tokenField("refresh", refresh2)),
		http.StatusUnauthorized, `{"detail":"Token is invalid or expired","code":"token_not_valid"}`)
	got, _ = scrape(t, srv)
	expectMetrics(t, "after the expired refresh", got, map[string]float64{
		`gatehouse_issuer_refreshes_total{issuer="default",outcome="expired"}`: 1,
		`gatehouse_issuer_refreshes_total{issuer="default",outcome="invalid"}`: 0,
	})

	_, text := scrape(t, srv)
	for what, secret := range map[string]string{"the user name": "alice", "a remote token": tok, "an access token": access,
		"a refresh token": refresh, "a rotated refresh token": refresh2} {
		if strings.Contains(text, secret) {
			t.Errorf("/metrics contains %s", what)
		}
	}

	// Caddy is down while the key grows old: stopped, its key made two minutes old in storage
	// (as if it had been down that long), started again: the rotation is due and done at start.
	srv.stop(t)
	backdateKeyRing(t, filepath.Join(inst.dir, "storage", "gatehouse", "issuer", "keys"), 2*time.Minute)
	srv = inst.startSites(t, site, "\tmetrics\n")
	got, _ = scrape(t, srv)
	expectMetrics(t, "after the restart with an old key", got, map[string]float64{
		`gatehouse_issuer_key_rotations_total{issuer="default"}`: 1,
		`gatehouse_issuer_signing_keys{issuer="default"}`:        2, // the old key and its successor
	})
}

// handlerLines is the handler label of the two jwt_auth directives of the Caddyfile at path, in
// their order: `handler="Caddyfile:<line>"`.
func handlerLines(t *testing.T, path string) (first, second string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var labels []string
	for i, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == "jwt_auth" {
			labels = append(labels, `handler="Caddyfile:`+strconv.Itoa(i+1)+`"`)
		}
	}
	if len(labels) != 2 {
		t.Fatalf("%d jwt_auth directives in %s, want 2", len(labels), path)
	}
	return labels[0], labels[1]
}

// backdateKeyRing moves the created times of the keys of the one key ring in dir back by d.
func backdateKeyRing(t *testing.T, dir string, d time.Duration) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) != 1 {
		t.Fatalf("key ring files in %s: %v %v, want one", dir, files, err)
	}
	raw, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var ring map[string]any
	if err := json.Unmarshal(raw, &ring); err != nil {
		t.Fatalf("the stored key ring: %v", err)
	}
	ks, _ := ring["keys"].([]any)
	if len(ks) != 1 {
		t.Fatalf("the stored ring has %d keys, want 1", len(ks))
	}
	k := ks[0].(map[string]any)
	created, err := time.Parse(time.RFC3339Nano, k["created"].(string))
	if err != nil {
		t.Fatal(err)
	}
	k["created"] = created.Add(-d).Format(time.RFC3339Nano)
	out, err := json.Marshal(ring)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, files[0], string(out))
}

// TestMetricsCountRedisStoreErrors: with the issuer's state in a real redis-server, the store
// series of backend redis time the login limits and the refresh's check and rotation; when
// Redis is killed, the next refresh fails closed (503) and the error of its check is counted.
func TestMetricsCountRedisStoreErrors(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	inst := newCaddyInstance(t)
	srv := inst.startSites(t, `http://:PORT {
	jwt_issuer /api/token/* {
		user alice `+aliceHash+`
		rotate_refresh
		store redis `+r.url()+`
	}
	respond 404
}
`, "\tmetrics\n")
	dur := func(op string) string {
		return storeSeries("gatehouse_issuer_store_duration_seconds_count", "redis", op)
	}
	errs := func(op string) string { return storeSeries("gatehouse_issuer_store_errors_total", "redis", op) }
	got, _ := scrape(t, srv)
	want := map[string]float64{dur("check"): 0, dur("rotate"): 0, dur("limit"): 0, errs("check"): 0, errs("limit"): 0}
	expectMetrics(t, "after start", got, want)

	_, refresh := tokens(t, postJSON(t, srv.URL+"/api/token/", credentials("alice", "alice-pw")))
	_, refresh2 := tokens(t, postJSON(t, srv.URL+"/api/token/refresh/", tokenField("refresh", refresh)))
	got, _ = scrape(t, srv)
	if n := got[dur("limit")]; n < 1 {
		t.Errorf("the login's limits in Redis are not timed (count %v)", n)
	}
	want[dur("check")], want[dur("rotate")] = 1, 1
	delete(want, dur("limit"))
	expectMetrics(t, "after a login and a refresh", got, want)

	r.kill(t)
	expect(t, "a refresh with Redis down", postJSON(t, srv.URL+"/api/token/refresh/", tokenField("refresh", refresh2)),
		http.StatusServiceUnavailable, bodyUnavailable)
	got, _ = scrape(t, srv)
	want[dur("check")], want[errs("check")] = 2, 1
	want[`gatehouse_issuer_refreshes_total{issuer="default",outcome="unavailable"}`] = 1
	expectMetrics(t, "after the refresh during the outage", got, want)
}
