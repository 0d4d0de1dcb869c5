package integration

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// replicaSite is the site body of both replicas: one issuer at /api/token/ (a generated ES256
// key kept in the storage, refresh rotation on, no login throttling) and /api/* behind a
// jwt_auth that trusts it.
var replicaSite = rotatingSite("login_limit off")

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

	sameKeys(t, a, b)
	return a, b
}

// TestSessionAcrossInstances: a user whose requests a load balancer spreads over two replicas
// sharing one storage folder keeps one session (see sessionAcrossInstances).
func TestSessionAcrossInstances(t *testing.T) {
	t.Parallel()
	a, b := startReplicas(t)
	sessionAcrossInstances(t, a, b)
}

// TestConcurrentRefreshAcrossInstances: of 64 concurrent refreshes of one token over two
// replicas sharing one storage folder, exactly one wins (see oneRefreshWins). Caddy's file
// storage polls a held lock about once a second; 60 s bounds the race.
func TestConcurrentRefreshAcrossInstances(t *testing.T) {
	t.Parallel()
	a, b := startReplicas(t)
	oneRefreshWins(t, a, b, 60*time.Second)
}
