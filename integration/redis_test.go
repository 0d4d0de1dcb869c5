package integration

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The shared store tests: two Caddy processes, each with its own storage folder, whose issuer
// keeps its keys, revocations, refresh rotation and login limits in one real redis-server (run
// by the test on a free loopback port, with its own directory and an append-only file), act as
// one issuer; and when that Redis goes away they fail closed and come back on their own.

// redisServerBin is Debian's redis-server.
const redisServerBin = "/usr/bin/redis-server"

// redisServer is one redis-server process that can be stopped and started again on the same
// port and directory (and so the same append-only file), as a restarted server would be.
type redisServer struct {
	port int
	dir  string

	cmd    *exec.Cmd
	exited chan struct{} // closed when the current process has exited
	log    string        // the current process's output
	starts int
}

// startRedis runs a redis-server on a free loopback port with its own directory, saving every
// write to its append-only file at once (appendfsync always) and no RDB snapshots. It is stopped
// when the test ends (SIGTERM, then SIGKILL after 10 s), its output printed if the test failed.
func startRedis(t *testing.T) *redisServer {
	t.Helper()
	r := &redisServer{port: freePort(t), dir: t.TempDir()}
	t.Cleanup(func() {
		if r.cmd == nil {
			return
		}
		if r.running() {
			_ = r.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-r.exited:
			case <-time.After(10 * time.Second):
				t.Errorf("redis-server did not stop within 10s of SIGTERM; killing it")
				_ = r.cmd.Process.Kill()
				<-r.exited
			}
		}
		if t.Failed() {
			out, _ := os.ReadFile(r.log)
			t.Logf("redis-server output (start %d):\n%s", r.starts, out)
		}
	})
	r.start(t)
	return r
}

// url is the store's address in a Caddyfile.
func (r *redisServer) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

// start runs the process (again) and waits until it answers PING with PONG, which it does once
// it has loaded its append-only file.
func (r *redisServer) start(t *testing.T) {
	t.Helper()
	if r.cmd != nil && r.running() {
		t.Fatal("redis-server is already running")
	}
	r.starts++
	logFile, err := os.Create(filepath.Join(r.dir, fmt.Sprintf("redis-%d.log", r.starts)))
	if err != nil {
		t.Fatal(err)
	}
	r.log = logFile.Name()
	r.cmd = exec.Command(redisServerBin,
		"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--protected-mode", "yes",
		"--dir", r.dir, "--save", "", "--appendonly", "yes", "--appendfsync", "always",
		"--daemonize", "no", "--logfile", "")
	r.cmd.Dir = r.dir
	r.cmd.Stdout, r.cmd.Stderr = logFile, logFile
	if err := r.cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("starting redis-server: %v", err)
	}
	exited := make(chan struct{})
	r.exited = exited
	cmd := r.cmd
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(exited)
	}()
	if !eventually(10*time.Second, func() bool { return r.running() && r.ping() == "+PONG" }) {
		out, _ := os.ReadFile(r.log)
		t.Fatalf("redis-server on port %d does not answer PING (running %v; last answer %q):\n%s", r.port, r.running(), r.ping(), out)
	}
}

func (r *redisServer) running() bool {
	select {
	case <-r.exited:
		return false
	default:
		return true
	}
}

// ping sends PING and returns the first line of the answer ("+PONG", "-LOADING ...") or "" when
// the server does not answer.
func (r *redisServer) ping() string {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)), time.Second)
	if err != nil {
		return ""
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := io.WriteString(c, "*1\r\n$4\r\nPING\r\n"); err != nil {
		return ""
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return ""
	}
	return strings.TrimRight(line, "\r\n")
}

// signal sends sig and waits (at most 10 s) for the process to exit and its port to refuse.
func (r *redisServer) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := r.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signalling redis-server: %v", err)
	}
	select {
	case <-r.exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("redis-server did not exit within 10s of %v", sig)
	}
	if !eventually(5*time.Second, func() bool { return r.ping() == "" }) {
		t.Fatalf("something still answers on redis-server's port %d after it exited", r.port)
	}
}

// kill stops the server as a crash would (SIGKILL).
func (r *redisServer) kill(t *testing.T) {
	t.Helper()
	r.signal(t, syscall.SIGKILL)
}

// stop stops the server as an operator would (SIGTERM: it flushes its append-only file).
func (r *redisServer) stop(t *testing.T) {
	t.Helper()
	r.signal(t, syscall.SIGTERM)
}

// redisSite is the site body of both instances: one issuer at /api/token/ with refresh rotation
// and login_limit 5 per 1m, its state in r, and /api/* behind a key-less jwt_auth that trusts it.
func redisSite(r *redisServer) string {
	return rotatingSite("login_limit 5 per 1m", "store redis "+r.url())
}

// startRedisInstances runs two Caddy processes with redisSite, each with its own storage
// folder (so all they share is r), A first. It fails the test unless both publish one and the
// same non-empty JWK Set: the signing keys came from Redis, not from either folder.
func startRedisInstances(t *testing.T, r *redisServer) (a, b *caddyServer) {
	t.Helper()
	instA, instB := newCaddyInstance(t), newCaddyInstance(t)
	if instA.dir == instB.dir {
		t.Fatal("the two instances share a directory")
	}
	a = instA.start(t, redisSite(r))
	b = instB.start(t, redisSite(r))
	sameKeys(t, a, b)
	return a, b
}

// TestRedisSessionAcrossInstances: a user whose requests a load balancer spreads over two
// instances that share nothing but a Redis store keeps one session (see
// sessionAcrossInstances).
func TestRedisSessionAcrossInstances(t *testing.T) {
	t.Parallel()
	a, b := startRedisInstances(t, startRedis(t))
	sessionAcrossInstances(t, a, b)
}

// TestRedisConcurrentRefreshOneWinner: of 64 concurrent refreshes of one token over two
// instances sharing a Redis store, exactly one wins (see oneRefreshWins).
func TestRedisConcurrentRefreshOneWinner(t *testing.T) {
	t.Parallel()
	a, b := startRedisInstances(t, startRedis(t))
	oneRefreshWins(t, a, b, 30*time.Second)
}

// TestRedisLoginStormLimitedAsOne: wrong passwords for alice from one client address, sent in
// turn to two instances sharing a Redis store, are limited as if by one server: with
// login_limit 5 per 1m, 5 attempts in all are checked (401), every later one on either
// instance is throttled (429 with Retry-After). Each instance counting on its own would let 10
// through. The client's budget is its own: alice logs in from another address.
func TestRedisLoginStormLimitedAsOne(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	a, b := startRedisInstances(t, r)
	guesser := clientAt("127.0.0.1")
	defer guesser.CloseIdleConnections()

	const attempts = 20
	began := time.Now()
	var got []string
	checked := 0
	for i := range attempts {
		srv, name := a, "A"
		if i%2 == 1 {
			srv, name = b, "B"
		}
		res := loginAt(t, guesser, srv.URL+"/api/token/", "application/json", credentials("alice", "guess"))
		got = append(got, name+":"+strconv.Itoa(res.Status))
		switch {
		case res.Status == http.StatusUnauthorized && res.Body == bodyBadCredentials:
			checked++
			if i >= 5 {
				t.Errorf("attempt %d (on %s) was checked (401) after 5 attempts from one address", i+1, name)
			}
		case res.Status == http.StatusTooManyRequests:
			ra, err := strconv.Atoi(res.Header.Get("Retry-After"))
			if err != nil || ra < 1 || ra > 60 {
				t.Errorf("attempt %d (on %s): 429 with Retry-After %q, want 1 to 60 seconds", i+1, name, res.Header.Get("Retry-After"))
			}
			if i < 5 {
				t.Errorf("attempt %d (on %s) was throttled within the first 5", i+1, name)
			}
		default:
			t.Errorf("attempt %d (on %s): %d %s, want 401 %s or 429", i+1, name, res.Status, res.Body, bodyBadCredentials)
		}
	}
	took := time.Since(began)
	t.Logf("%d wrong-password logins from 127.0.0.1 alternating A, B in %s: %s", attempts, took.Round(time.Millisecond), strings.Join(got, " "))
	if checked > 5 {
		t.Errorf("%d of %d attempts were checked across A and B, want at most 5 (login_limit 5 per 1m, counted as one)", checked, attempts)
	}
	if checked == 0 {
		t.Errorf("no attempt was checked at all")
	}
	// The right password from the throttled address is throttled too; from another address, it
	// works on either instance.
	res := loginAt(t, guesser, b.URL+"/api/token/", "application/json", credentials("alice", "alice-pw"))
	if res.Status != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Errorf("the guesser with the right password on B: %d (Retry-After %q), want 429", res.Status, res.Header.Get("Retry-After"))
	}
	user := clientAt("127.0.0.2")
	defer user.CloseIdleConnections()
	for name, srv := range map[string]*caddyServer{"A": a, "B": b} {
		res := loginAt(t, user, srv.URL+"/api/token/", "application/json", credentials("alice", "alice-pw"))
		if res.Status != http.StatusOK {
			t.Errorf("alice from 127.0.0.2 on %s: %d %s, want 200", name, res.Status, res.Body)
		}
	}
}

// TestRedisOutageFailsClosed: when the Redis store goes away (killed), access tokens already
// issued go on working on both instances (verification needs only the keys in memory), while
// refresh, login and logout answer 503 (never a token or another 5xx), and each instance logs
// the outage once, not once a request. When Redis comes back on the same port and directory,
// refreshes work again on both instances without a reload, the refresh token that failed
// during the outage included, and each logs that it is reachable again.
func TestRedisOutageFailsClosed(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	a, b := startRedisInstances(t, r)
	access, refresh := tokens(t, postJSON(t, a.URL+"/api/token/", credentials("alice", "alice-pw")))
	hello(t, "the access token on B before the outage", b, access)

	r.kill(t)
	outage := time.Now()

	const rounds = 7 // 21 failed requests to each instance
	var slowest time.Duration
	timed := func(url, body string) response {
		t.Helper()
		began := time.Now()
		res := postJSON(t, url, body)
		slowest = max(slowest, time.Since(began))
		return res
	}
	for i := range rounds {
		for name, srv := range map[string]*caddyServer{"A": a, "B": b} {
			hello(t, fmt.Sprintf("round %d: the access token on %s during the outage", i+1, name), srv, access)
			expect(t, fmt.Sprintf("round %d: refresh on %s during the outage", i+1, name),
				timed(srv.URL+"/api/token/refresh/", tokenField("refresh", refresh)),
				http.StatusServiceUnavailable, bodyUnavailable)
			expect(t, fmt.Sprintf("round %d: login on %s during the outage", i+1, name),
				timed(srv.URL+"/api/token/", credentials("alice", "alice-pw")),
				http.StatusServiceUnavailable, bodyUnavailable)
			expect(t, fmt.Sprintf("round %d: logout on %s during the outage", i+1, name),
				timed(srv.URL+"/api/token/blacklist/", tokenField("refresh", refresh)),
				http.StatusServiceUnavailable, bodyUnavailable)
		}
	}
	t.Logf("%d requests to each instance during the outage took %s; the slowest 503 took %s",
		rounds*4, time.Since(outage).Round(time.Millisecond), slowest.Round(time.Millisecond))
	const down, up = "redis store unreachable", "redis store reachable again"
	for name, srv := range map[string]*caddyServer{"A": a, "B": b} {
		if got := strings.Count(srv.logText(t), down); got != 1 {
			t.Errorf("instance %s logged %q %d times during one outage of %d failed requests, want once", name, down, got, rounds*3)
		}
		if strings.Contains(srv.logText(t), up) {
			t.Errorf("instance %s logged %q while Redis is down", name, up)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	r.start(t)
	back := time.Now()
	// A refresh that failed with 503 used nothing up: the same token is refreshed on A, and its
	// successor on B. Until the instance reconnects, 503 is the only other answer.
	refreshOn := func(name string, srv *caddyServer, tok string) (next string) {
		t.Helper()
		var last response
		if !eventually(10*time.Second, func() bool {
			last = postJSON(t, srv.URL+"/api/token/refresh/", tokenField("refresh", tok))
			return last.Status != http.StatusServiceUnavailable
		}) {
			t.Fatalf("refresh on %s still %d %s 10s after Redis came back", name, last.Status, last.Body)
		}
		access, next := tokens(t, last)
		if next == "" || next == tok {
			t.Fatalf("the refresh on %s after the outage did not rotate the token", name)
		}
		hello(t, "the refreshed access token on "+name, srv, access)
		return next
	}
	next := refreshOn("A", a, refresh)
	refreshOn("B", b, next)
	t.Logf("refreshes worked again on both instances %s after Redis came back", time.Since(back).Round(time.Millisecond))

	for name, srv := range map[string]*caddyServer{"A": a, "B": b} {
		log := srv.logText(t)
		if got := strings.Count(log, down); got != 1 {
			t.Errorf("instance %s logged %q %d times, want once", name, down, got)
		}
		if got := strings.Count(log, up); got != 1 {
			t.Errorf("instance %s logged %q %d times after Redis came back, want once", name, up, got)
		}
		if strings.Contains(log, refresh) || strings.Contains(log, access) {
			t.Errorf("instance %s logged a token", name)
		}
	}
}

// TestRedisRestartKeepsRevocations: the revocations live in Redis's append-only file, so a Redis
// restarted (SIGTERM, then started again on its directory) still refuses a logged-out refresh
// token and the replay of a rotated-out one (whose reuse then revokes its family, the token it
// was rotated into included), while a fresh login and refresh work.
func TestRedisRestartKeepsRevocations(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	a, b := startRedisInstances(t, r)

	_, loggedOut := tokens(t, postJSON(t, a.URL+"/api/token/", credentials("alice", "alice-pw")))
	expect(t, "logout on A", postJSON(t, a.URL+"/api/token/blacklist/", tokenField("refresh", loggedOut)), http.StatusOK, "{}")
	_, rotatedOut := tokens(t, postJSON(t, b.URL+"/api/token/", credentials("alice", "alice-pw")))
	_, successor := tokens(t, postJSON(t, a.URL+"/api/token/refresh/", tokenField("refresh", rotatedOut)))
	if successor == "" || successor == rotatedOut {
		t.Fatal("the refresh on A did not rotate the refresh token")
	}

	r.stop(t)
	r.start(t)
	back := time.Now()

	// The instances' connections died with the server; until they reconnect, 503 (fail closed)
	// is the only other answer.
	settled := func(step string, srv *caddyServer, path, body string) response {
		t.Helper()
		var last response
		unavailable := 0
		if !eventually(10*time.Second, func() bool {
			last = postJSON(t, srv.URL+path, body)
			if last.Status == http.StatusServiceUnavailable {
				unavailable++
				return false
			}
			return true
		}) {
			t.Fatalf("%s: still %d %s 10s after Redis came back", step, last.Status, last.Body)
		}
		if unavailable > 0 {
			t.Logf("%s: %d answers 503 before the instance reconnected", step, unavailable)
		}
		return last
	}
	expect(t, "refresh on B of the logged-out token after the Redis restart",
		settled("logged-out refresh on B", b, "/api/token/refresh/", tokenField("refresh", loggedOut)),
		http.StatusUnauthorized, bodyBlacklisted)
	expect(t, "replay on A of the rotated-out token after the Redis restart",
		settled("replay on A", a, "/api/token/refresh/", tokenField("refresh", rotatedOut)),
		http.StatusUnauthorized, bodyBlacklisted)
	expect(t, "replay on B of the rotated-out token after the Redis restart",
		postJSON(t, b.URL+"/api/token/refresh/", tokenField("refresh", rotatedOut)),
		http.StatusUnauthorized, bodyBlacklisted)
	expect(t, "refresh on B of the successor of the replayed token (its family is revoked)",
		postJSON(t, b.URL+"/api/token/refresh/", tokenField("refresh", successor)),
		http.StatusUnauthorized, bodyBlacklisted)
	expect(t, "refresh on A of the logged-out token after the Redis restart",
		postJSON(t, a.URL+"/api/token/refresh/", tokenField("refresh", loggedOut)),
		http.StatusUnauthorized, bodyBlacklisted)

	access, fresh := tokens(t, postJSON(t, b.URL+"/api/token/", credentials("alice", "alice-pw")))
	hello(t, "a fresh access token on A after the Redis restart", a, access)
	access2, fresh2 := tokens(t, postJSON(t, a.URL+"/api/token/refresh/", tokenField("refresh", fresh)))
	if fresh2 == "" || fresh2 == fresh {
		t.Fatal("the fresh refresh did not rotate the refresh token")
	}
	hello(t, "the fresh refreshed access token on B", b, access2)
	t.Logf("checks after the Redis restart took %s", time.Since(back).Round(time.Millisecond))
}
