// Command soak is the driver of bench/soak.sh: it writes the configuration of a Caddy with
// Gatehouse, then sends that Caddy mixed traffic for a while (valid, expired and garbage access
// tokens; logins with the right and a wrong password; refreshes with rotation; replays of rotated
// refresh tokens; logouts) from a bounded number of workers, and checks that nothing went wrong:
// no 5xx, no transport error, no answer other than the expected one, no panic or leaked secret in
// Caddy's log, and no growth of the server's memory or goroutines beyond a bound.
//
//	soak setup -dir DIR
//	soak run -dir DIR -pid PID [-duration 180s] [-warmup 30s] [-concurrency 8]
//
// setup writes DIR/secret (the issuer's HMAC secret), DIR/Caddyfile (free loopback ports, storage
// and log inside DIR) and DIR/soak.json (what run needs). run expects Caddy, started by the
// script with DIR/Caddyfile, to be process PID. Standard library only, so that it builds
// wherever the module does.
package main

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The one inline user. The hash is bcrypt at cost 10 of soakPassword, made once with
// golang.org/x/crypto/bcrypt.GenerateFromPassword (the driver stays standard library only):
// cheaper than `caddy hash-password`'s default cost 14, so that logins are a realistic part of
// the traffic rather than all of it, and far dearer than the cost 4 of the unit tests, so that
// the issuer's hashing gate is exercised.
const (
	soakUser      = "soak"
	soakPassword  = "gatehouse-soak-password"
	soakHash      = "$2a$10$S1SLlw0jYE2NBKNvIjf6DOp2hentqhsm2gN27x9OSUqmIETPSZZRW"
	soakUserID    = 42
	wrongPassword = "gatehouse-soak-wrong-password"
)

// Shape of the traffic. Each worker repeats a session: one login, refreshesPerSession rounds of
// requestsPerRefresh API requests each followed by a refresh (rotation), one failed login, then
// a logout (blacklist) or a replay of a rotated refresh token, alternately, each checked by a
// refresh that must fail. Logins cost a bcrypt comparison each (about 50 ms of a core at cost
// 10), so sessions are long enough for them to stay a small share of the server's work.
const (
	refreshesPerSession = 4
	requestsPerRefresh  = 500
	poolSize            = 20000 // distinct valid tokens: twice jwt_auth's default cache_size
	expiredSize         = 2000
	garbageSize         = 1000
)

// Memory bound: the server's RSS after the run may exceed its RSS after the warm-up by at most
// rssGrowthPct percent plus rssSlackMiB. Why: a Go heap is collected when it reaches twice the
// live heap (GOGC=100), and freed pages go back to the kernel lazily, so two samples of the same
// steady state differ by a share of the heap; the fixed slack covers a small heap, where one GC
// cycle more or less is several MiB. A leak of only 15 bytes per request is 34 MB over the 2.3
// million requests of a 180 s run on a 2-core machine, beyond the bound (29 MiB at 76 MiB).
const (
	rssGrowthPct      = 25
	rssSlackMiB       = 10
	goroutineSlack    = 50 // leaked request goroutines would add one per request: thousands
	settle            = 2 * time.Second
	requestTimeout    = 30 * time.Second
	readyTimeout      = 30 * time.Second
	maxResponseBytes  = 1 << 20
	maxLogLineBytes   = 4 << 20
	rssSampleInterval = 5 * time.Second
)

// config is DIR/soak.json.
type config struct {
	Site       string `json:"site"`  // http://127.0.0.1:port
	Admin      string `json:"admin"` // http://127.0.0.1:port
	SecretFile string `json:"secret_file"`
	LogFile    string `json:"log_file"`
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: soak setup -dir DIR | soak run -dir DIR -pid PID [-duration 180s] [-warmup 30s] [-concurrency 8]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "setup":
		fs := flag.NewFlagSet("setup", flag.ExitOnError)
		dir := fs.String("dir", "", "directory for the configuration, storage and log (must exist)")
		logLevel := fs.String("log-level", "DEBUG", "Caddy's log level")
		_ = fs.Parse(os.Args[2:])
		err = setup(*dir, *logLevel)
	case "run":
		fs := flag.NewFlagSet("run", flag.ExitOnError)
		dir := fs.String("dir", "", "the directory setup wrote")
		pid := fs.Int("pid", 0, "Caddy's process id")
		duration := fs.Duration("duration", 180*time.Second, "how long the measured traffic runs")
		warmup := fs.Duration("warmup", 30*time.Second, "traffic before the first memory sample")
		concurrency := fs.Int("concurrency", 8, "workers, each with at most one request in flight")
		_ = fs.Parse(os.Args[2:])
		err = run(*dir, *pid, *duration, *warmup, *concurrency)
	default:
		err = fmt.Errorf("unknown command %q; use setup or run", os.Args[1])
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "soak: %v\n", err)
		os.Exit(1)
	}
}

// setup writes the secret, the Caddyfile and soak.json into dir.
func setup(dir, logLevel string) error {
	if dir == "" {
		return errors.New("-dir is required")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if !isWord(logLevel) {
		return fmt.Errorf("-log-level %q is not a log level (DEBUG, INFO, WARN, ERROR)", logLevel)
	}
	raw := make([]byte, 48)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	cfg := config{SecretFile: filepath.Join(dir, "secret"), LogFile: filepath.Join(dir, "caddy.log")}
	if err := os.WriteFile(cfg.SecretFile, []byte(base64.RawURLEncoding.EncodeToString(raw)), 0o600); err != nil {
		return err
	}
	site, err := freePort()
	if err != nil {
		return err
	}
	admin, err := freePort()
	for admin == site && err == nil {
		admin, err = freePort()
	}
	if err != nil {
		return err
	}
	cfg.Site = fmt.Sprintf("http://127.0.0.1:%d", site)
	cfg.Admin = fmt.Sprintf("http://127.0.0.1:%d", admin)

	// jwt_auth without keys trusts the issuer, whose HMAC secret the driver also uses to mint
	// tokens of its own. The response shows the user id jwt_auth found and the X-User-Id header
	// the handlers after it see (the client sends a forged one: it must be replaced).
	caddyfile := fmt.Sprintf(`{
	admin 127.0.0.1:%d
	storage file_system %s
	auto_https off
	persist_config off
	skip_install_trust
	grace_period 1s
	log {
		output file %s {
			roll_disabled
		}
		level %s
	}
}

http://127.0.0.1:%d {
	bind 127.0.0.1
	jwt_issuer /api/token/* {
		user %s %s {
			claim user_id %d
		}
		signing_key secret {file.%s}
		rotate_refresh
		login_limit 1000000 per 1m
	}
	jwt_auth /api/* {
		forward_claim user_id X-User-Id
	}
	respond /api/* "user={http.auth.user.id} fwd={http.request.header.X-User-Id}" 200
	respond "public" 200
}
`, admin, filepath.Join(dir, "storage"), cfg.LogFile, logLevel, site, soakUser, soakHash, soakUserID, cfg.SecretFile)
	if err := os.WriteFile(filepath.Join(dir, "Caddyfile"), []byte(caddyfile), 0o600); err != nil {
		return err
	}
	js, _ := json.MarshalIndent(cfg, "", "  ")
	return os.WriteFile(filepath.Join(dir, "soak.json"), js, 0o600)
}

// isWord reports whether s is a non-empty word of ASCII letters (a log level).
func isWord(s string) bool {
	for _, c := range s {
		if (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') {
			return false
		}
	}
	return s != ""
}

// freePort returns a loopback port nothing listens on now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// category is one kind of request, with the statuses that are right for it.
type category struct {
	name   string
	expect []int
	what   string
}

var categories = []category{
	{"access_session", []int{200}, "API request with the access token of the worker's login or last refresh"},
	{"access_pool", []int{200}, "API request with one of 20000 distinct valid tokens minted by the driver"},
	{"access_expired", []int{401}, "API request with an expired token"},
	{"access_garbage", []int{401}, "API request with a malformed, forged, unsigned, wrong-type or missing token"},
	{"login_ok", []int{200}, "login with the right password"},
	{"login_bad", []int{401}, "login with a wrong password or an unknown user"},
	{"refresh", []int{200}, "refresh with rotation"},
	{"blacklist", []int{200}, "logout: blacklist the refresh token (and its family)"},
	{"refresh_revoked", []int{401}, "refresh with a blacklisted token, a replayed rotated one, or one of a revoked family"},
}

// stats counts one category's requests.
type stats struct {
	requests   int
	statuses   map[int]int
	transport  int
	unexpected int
	example    string // the first unexpected answer or transport error
	total, max time.Duration
}

func (s *stats) add(o *stats) {
	s.requests += o.requests
	for k, v := range o.statuses {
		s.statuses[k] += v
	}
	s.transport += o.transport
	s.unexpected += o.unexpected
	if s.example == "" {
		s.example = o.example
	}
	s.total += o.total
	s.max = max(s.max, o.max)
}

func newStats() map[string]*stats {
	m := make(map[string]*stats, len(categories))
	for _, c := range categories {
		m[c.name] = &stats{statuses: make(map[int]int)}
	}
	return m
}

// tokens are the driver's own tokens, shared read-only by the workers.
type tokens struct {
	pool    []string // valid; pool[i] has user_id 1000+i
	expired []string
	garbage []string // Authorization header values ("" for none)
}

// driver is one run.
type driver struct {
	cfg    config
	secret []byte
	client *http.Client
	toks   tokens
}

// run checks that Caddy is up, warms it up, measures, and reports.
func run(dir string, pid int, duration, warmup time.Duration, concurrency int) error {
	switch {
	case dir == "":
		return errors.New("-dir is required")
	case pid <= 0:
		return errors.New("-pid is required")
	case duration <= 0 || warmup < 0:
		return errors.New("-duration must be positive and -warmup not negative")
	case concurrency < 1 || concurrency > 256:
		return errors.New("-concurrency must be from 1 to 256")
	}
	js, err := os.ReadFile(filepath.Join(dir, "soak.json"))
	if err != nil {
		return err
	}
	d := &driver{}
	if err := json.Unmarshal(js, &d.cfg); err != nil {
		return err
	}
	if d.secret, err = os.ReadFile(d.cfg.SecretFile); err != nil {
		return err
	}
	d.client = &http.Client{
		Timeout: requestTimeout,
		Transport: &http.Transport{
			Proxy:               nil, // loopback only, whatever the environment says
			MaxIdleConnsPerHost: concurrency,
			MaxConnsPerHost:     concurrency + 2,
			DisableCompression:  true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if err := d.waitReady(pid); err != nil {
		return err
	}
	// The pool must outlive the whole run.
	d.toks = d.mint(time.Now().Add(warmup + duration + 15*time.Minute))

	start := time.Now()
	logf("warm-up: %s, %d workers", warmup, concurrency)
	warm := d.traffic(time.Now().Add(warmup), concurrency)
	time.Sleep(settle)
	before, err := sample(d.client, pid, d.cfg.Admin)
	if err != nil {
		return err
	}
	logf("measured run: %s (RSS after warm-up %.1f MiB)", duration, mib(before.rss))

	peak := before.rss
	stop := make(chan struct{})
	var samplerDone sync.WaitGroup
	samplerDone.Add(1)
	go func() {
		defer samplerDone.Done()
		t := time.NewTicker(rssSampleInterval)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if r, err := readRSS(pid); err == nil {
					peak = max(peak, r)
				}
			}
		}
	}()
	runStart := time.Now()
	measured := d.traffic(time.Now().Add(duration), concurrency)
	elapsed := time.Since(runStart)
	close(stop)
	samplerDone.Wait()
	time.Sleep(settle)
	after, err := sample(d.client, pid, d.cfg.Admin)
	if err != nil {
		return fmt.Errorf("after the run: %w (did Caddy exit?)", err)
	}
	peak = max(peak, after.rss)

	logScan, err := d.scanLog()
	if err != nil {
		return err
	}
	failures := report(os.Stdout, warm, measured, elapsed, concurrency, before, after, peak, logScan)
	fmt.Printf("\ntotal time %s\n", time.Since(start).Round(time.Second))
	if len(failures) > 0 {
		return fmt.Errorf("FAIL: %s", strings.Join(failures, "; "))
	}
	fmt.Println("PASS")
	return nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "==> "+format+"\n", args...)
}

// waitReady waits until the site answers, failing early if the process is gone.
func (d *driver) waitReady(pid int) error {
	deadline := time.Now().Add(readyTimeout)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
			return fmt.Errorf("caddy (pid %d) is not running", pid)
		}
		resp, err := d.client.Get(d.cfg.Site + "/")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("caddy did not answer on %s within %s", d.cfg.Site, readyTimeout)
}

// traffic runs the workers until deadline and returns their merged counts.
func (d *driver) traffic(deadline time.Time, concurrency int) map[string]*stats {
	results := make([]map[string]*stats, concurrency)
	var wg sync.WaitGroup
	for i := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &worker{d: d, id: i, rng: mrand.New(mrand.NewPCG(uint64(i)+1, uint64(time.Now().UnixNano()))), stats: newStats()}
			w.cursor = w.rng.IntN(poolSize)
			for time.Now().Before(deadline) {
				w.session(deadline)
			}
			results[i] = w.stats
		}()
	}
	wg.Wait()
	total := newStats()
	for _, r := range results {
		for name, s := range r {
			total[name].add(s)
		}
	}
	return total
}

// worker runs sessions one request at a time.
type worker struct {
	d        *driver
	id       int
	rng      *mrand.Rand
	stats    map[string]*stats
	cursor   int // next pool token
	sessions int
}

// session is one login's life; it returns early (the failure counted) when a step that the
// next ones need fails, and stops starting rounds at deadline.
func (w *worker) session(deadline time.Time) {
	w.sessions++
	access, refresh, ok := w.login()
	if !ok {
		return
	}
	var used string // a refresh token rotation has used up
	for r := 0; r < refreshesPerSession && time.Now().Before(deadline); r++ {
		for i := 0; i < requestsPerRefresh && time.Now().Before(deadline); i++ {
			switch i % 10 {
			case 0, 1, 2:
				w.api("access_session", "Bearer "+access, "user=42 fwd=42")
			case 3, 4, 5:
				n := w.cursor % poolSize
				w.cursor++
				id := strconv.Itoa(1000 + n)
				w.api("access_pool", "Bearer "+w.d.toks.pool[n], "user="+id+" fwd="+id)
			case 6:
				w.api("access_expired", "Bearer "+w.d.toks.expired[w.rng.IntN(expiredSize)], "")
			default:
				w.api("access_garbage", w.d.toks.garbage[w.rng.IntN(garbageSize)], "")
			}
		}
		newAccess, newRefresh, ok := w.refresh("refresh", refresh)
		if !ok {
			return
		}
		used, access, refresh = refresh, newAccess, newRefresh
	}
	w.badLogin()
	if w.sessions%2 == 0 || used == "" {
		// Logout, then the token must be dead.
		w.post("blacklist", "/api/token/blacklist/", map[string]string{"refresh": refresh})
		w.refresh("refresh_revoked", refresh)
		return
	}
	// A replay of a used-up token revokes the family: the current token dies with it.
	w.refresh("refresh_revoked", used)
	w.refresh("refresh_revoked", refresh)
}

func (w *worker) login() (access, refresh string, ok bool) {
	body := w.post("login_ok", "/api/token/", map[string]string{"username": soakUser, "password": soakPassword})
	return w.pair("login_ok", body, true)
}

func (w *worker) badLogin() {
	creds := map[string]string{"username": soakUser, "password": wrongPassword}
	if w.sessions%2 == 1 {
		// A different unknown user every time, as in credential stuffing: the limiter keeps
		// a bounded number of keys.
		creds["username"] = fmt.Sprintf("nobody-%d-%d", w.id, w.sessions)
	}
	w.post("login_bad", "/api/token/", creds)
}

// refresh posts a refresh token; for category "refresh" it returns the new pair.
func (w *worker) refresh(cat, token string) (access, refresh string, ok bool) {
	body := w.post(cat, "/api/token/refresh/", map[string]string{"refresh": token})
	if cat != "refresh" {
		return "", "", false
	}
	return w.pair(cat, body, true)
}

// pair reads {"access","refresh"} from a successful answer (nil body: it was not one).
func (w *worker) pair(cat string, body []byte, needRefresh bool) (access, refresh string, ok bool) {
	if body == nil {
		return "", "", false
	}
	var p struct{ Access, Refresh string }
	if err := json.Unmarshal(body, &p); err != nil || p.Access == "" || (needRefresh && p.Refresh == "") {
		s := w.stats[cat]
		s.unexpected++
		if s.example == "" {
			s.example = fmt.Sprintf("200 without a token pair: %.200s", body)
		}
		return "", "", false
	}
	return p.Access, p.Refresh, true
}

// post sends a JSON body and returns the answer's body when its status was the expected one
// and 2xx (nil otherwise).
func (w *worker) post(cat, path string, fields map[string]string) []byte {
	js, _ := json.Marshal(fields)
	req, err := http.NewRequest(http.MethodPost, w.d.cfg.Site+path, bytes.NewReader(js))
	if err != nil {
		panic(err) // a URL of our own making
	}
	req.Header.Set("Content-Type", "application/json")
	status, body := w.do(cat, req, "")
	if status/100 != 2 {
		return nil
	}
	return body
}

// api sends a GET to the protected API; wantBody, when not "", is the body a 200 must have.
func (w *worker) api(cat, authorization, wantBody string) {
	req, err := http.NewRequest(http.MethodGet, w.d.cfg.Site+"/api/hello", nil)
	if err != nil {
		panic(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	req.Header.Set("X-User-Id", "666") // forged: jwt_auth must replace it
	w.do(cat, req, wantBody)
}

// do sends req and counts the answer under cat.
func (w *worker) do(cat string, req *http.Request, wantBody string) (int, []byte) {
	s := w.stats[cat]
	s.requests++
	t0 := time.Now()
	resp, err := w.d.client.Do(req)
	if err != nil {
		s.transport++
		if s.example == "" {
			s.example = "transport: " + err.Error()
		}
		return 0, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	resp.Body.Close()
	dt := time.Since(t0)
	s.total += dt
	s.max = max(s.max, dt)
	if err != nil {
		s.transport++
		if s.example == "" {
			s.example = "reading the body: " + err.Error()
		}
		return 0, nil
	}
	s.statuses[resp.StatusCode]++
	ok := slices.Contains(expectOf(cat), resp.StatusCode)
	if ok && wantBody != "" && resp.StatusCode == http.StatusOK && string(body) != wantBody {
		ok = false
	}
	if !ok {
		s.unexpected++
		if s.example == "" {
			s.example = fmt.Sprintf("%d %.200q", resp.StatusCode, body)
		}
		return resp.StatusCode, nil
	}
	return resp.StatusCode, body
}

func expectOf(cat string) []int {
	for _, c := range categories {
		if c.name == cat {
			return c.expect
		}
	}
	return nil
}

// mint makes the driver's tokens with the issuer's secret (simplejwt's layout).
func (d *driver) mint(validUntil time.Time) tokens {
	rng := mrand.New(mrand.NewPCG(1, 2))
	now := time.Now().Unix()
	var t tokens
	for i := range poolSize {
		t.pool = append(t.pool, d.sign(hs256Header, claimsJSON("access", validUntil.Unix(), now, 1000+i, "")))
	}
	for i := range expiredSize {
		exp := now - 3600 - int64(i)
		t.expired = append(t.expired, d.sign(hs256Header, claimsJSON("access", exp, exp-300, 1000+i, "")))
	}
	valid := d.sign(hs256Header, claimsJSON("access", validUntil.Unix(), now, 7, ""))
	variants := []func() string{
		func() string { return "" }, // no token
		func() string { return "Basic c29hazpnYXRlaG91c2U=" },
		func() string { return "Bearer" },
		func() string { return "Bearer " + randB64(rng, 20) + "." + randB64(rng, 60) + "." + randB64(rng, 32) },
		func() string { return "Bearer " + flipLast(valid, rng) },
		func() string { return "Bearer " + valid[:rng.IntN(len(valid)-1)+1] },
		func() string { // unsigned
			return "Bearer " + b64(`{"alg":"none","typ":"JWT"}`) + "." + b64(claimsJSON("access", validUntil.Unix(), now, 7, "")) + "."
		},
		func() string { // another secret
			other := &driver{secret: []byte(randB64(rng, 48))}
			return "Bearer " + other.sign(hs256Header, claimsJSON("access", validUntil.Unix(), now, 7, ""))
		},
		func() string { // a refresh token where an access token belongs
			return "Bearer " + d.sign(hs256Header, claimsJSON("refresh", validUntil.Unix(), now, 7, ""))
		},
		func() string { // not yet valid
			return "Bearer " + d.sign(hs256Header, claimsJSON("access", validUntil.Unix(), now, 7, `,"nbf":`+strconv.FormatInt(now+3600, 10)))
		},
		func() string { // no exp
			return "Bearer " + d.sign(hs256Header, `{"token_type":"access","user_id":7}`)
		},
		func() string { // exp as a string
			return "Bearer " + d.sign(hs256Header, `{"token_type":"access","exp":"`+strconv.FormatInt(validUntil.Unix(), 10)+`","user_id":7}`)
		},
		func() string { // duplicate member
			return "Bearer " + d.sign(hs256Header, `{"exp":1,"exp":`+strconv.FormatInt(validUntil.Unix(), 10)+`,"user_id":7}`)
		},
		func() string { // a user id that must not reach a header
			return "Bearer " + d.sign(hs256Header, `{"exp":`+strconv.FormatInt(validUntil.Unix(), 10)+`,"user_id":"7\r\nX-Admin: 1"}`)
		},
		func() string { // an RS256 header with an unknown kid
			return "Bearer " + b64(`{"alg":"RS256","kid":"nope","typ":"JWT"}`) + "." + b64(claimsJSON("access", validUntil.Unix(), now, 7, "")) + "." + randB64(rng, 256)
		},
		func() string { // larger than max_token_size
			return "Bearer " + b64(`{"alg":"HS256","typ":"JWT"}`) + "." + randB64(rng, 9000) + "." + randB64(rng, 32)
		},
		func() string { return "Bearer " + strings.Repeat(".", rng.IntN(5)) + randB64(rng, rng.IntN(40)) },
		func() string { return "bEaReR  " + randB64(rng, 30) }, // scheme case, two spaces
	}
	for i := range garbageSize {
		t.garbage = append(t.garbage, variants[i%len(variants)]())
	}
	return t
}

const hs256Header = `{"alg":"HS256","typ":"JWT"}`

// claimsJSON is a simplejwt-shaped claim set; extra is raw JSON members starting with a comma.
func claimsJSON(tokenType string, exp, iat int64, userID int, extra string) string {
	jti := make([]byte, 16)
	_, _ = rand.Read(jti)
	return fmt.Sprintf(`{"token_type":%q,"exp":%d,"iat":%d,"jti":%q,"user_id":%d%s}`, tokenType, exp, iat, hex.EncodeToString(jti), userID, extra)
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func randB64(rng *mrand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// flipLast changes one character of the signature.
func flipLast(tok string, rng *mrand.Rand) string {
	i := strings.LastIndexByte(tok, '.') + 1 + rng.IntN(40)
	c := byte('A')
	if tok[i] == 'A' {
		c = 'B'
	}
	return tok[:i] + string(c) + tok[i+1:]
}

// sign makes an HS256 compact JWS.
func (d *driver) sign(header, claims string) string {
	in := b64(header) + "." + b64(claims)
	mac := hmac.New(sha256.New, d.secret)
	mac.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// resources is one sample of the server.
type resources struct {
	rss, hwm   int64 // bytes
	goroutines int   // -1 when unknown
	heap       int64 // go_memstats_heap_inuse_bytes, -1 when unknown
}

func sample(client *http.Client, pid int, admin string) (resources, error) {
	r := resources{goroutines: -1, heap: -1}
	var err error
	if r.rss, err = readRSS(pid); err != nil {
		return r, err
	}
	r.hwm, _ = readStatus(pid, "VmHWM:")
	resp, err := client.Get(admin + "/metrics")
	if err != nil {
		return r, nil // the figures from the admin endpoint are extras
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 16<<20))
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(val, 64)
		if err != nil {
			continue
		}
		switch name {
		case "go_goroutines":
			r.goroutines = int(f)
		case "go_memstats_heap_inuse_bytes":
			r.heap = int64(f)
		}
	}
	return r, nil
}

func readRSS(pid int) (int64, error) { return readStatus(pid, "VmRSS:") }

// readStatus reads a "<field> <n> kB" line of /proc/<pid>/status, in bytes.
func readStatus(pid int, field string) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/%d/status: %s %q", pid, field, rest)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("/proc/%d/status has no %s", pid, field)
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// logScan is what Caddy's log says.
type logScan struct {
	lines, errors, warnings int
	panics                  []string
	leaks                   []string
	bytes                   int64
}

// scanLog reads Caddy's log: panics, error and warning counts, and any line that holds a
// password, the secret, or a token's signature (a sample of each kind of token sent).
func (d *driver) scanLog() (logScan, error) {
	var ls logScan
	needles := map[string]string{
		"the password":       soakPassword,
		"the wrong password": wrongPassword,
		"the signing secret": string(d.secret),
	}
	sig := func(tok string) string {
		tok = strings.TrimPrefix(tok, "Bearer ")
		if i := strings.LastIndexByte(tok, '.'); i >= 0 && len(tok)-i > 16 {
			return tok[i+1:]
		}
		if len(tok) > 24 {
			return tok
		}
		return ""
	}
	for i := 0; i < 8; i++ {
		for kind, list := range map[string][]string{"a pool token": d.toks.pool, "an expired token": d.toks.expired, "a garbage token": d.toks.garbage} {
			if s := sig(list[(i*7919)%len(list)]); s != "" {
				needles[fmt.Sprintf("%s (#%d)", kind, i)] = s
			}
		}
	}
	f, err := os.Open(d.cfg.LogFile)
	if err != nil {
		return ls, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil {
		ls.bytes = fi.Size()
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), maxLogLineBytes)
	for sc.Scan() {
		line := sc.Text()
		ls.lines++
		switch {
		case strings.Contains(line, `"level":"error"`):
			ls.errors++
		case strings.Contains(line, `"level":"warn"`):
			ls.warnings++
		}
		if strings.Contains(line, "panic") {
			ls.panics = append(ls.panics, trim(line))
		}
		for what, n := range needles {
			if strings.Contains(line, n) {
				ls.leaks = append(ls.leaks, what+": "+trim(line))
			}
		}
	}
	return ls, sc.Err()
}

func trim(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}

// report prints the figures and returns what failed.
func report(out io.Writer, warm, measured map[string]*stats, elapsed time.Duration, concurrency int, before, after resources, peak int64, ls logScan) []string {
	var failures []string
	var all int
	fmt.Fprintf(out, "\n%d workers, measured for %s after the warm-up\n\n", concurrency, elapsed.Round(time.Second))
	fmt.Fprintln(out, "| category | requests | statuses | transport errors | 5xx | unexpected | mean ms | max ms |")
	fmt.Fprintln(out, "|---|---|---|---|---|---|---|---|")
	check := func(phase string, m map[string]*stats) {
		for _, c := range categories {
			s := m[c.name]
			var fivexx int
			for code, n := range s.statuses {
				if code >= 500 {
					fivexx += n
				}
			}
			if phase == "run" {
				all += s.requests
				mean := 0.0
				if n := s.requests - s.transport; n > 0 {
					mean = float64(s.total.Microseconds()) / float64(n) / 1000
				}
				fmt.Fprintf(out, "| %s | %d | %s | %d | %d | %d | %.1f | %.0f |\n", c.name, s.requests, statusList(s.statuses), s.transport, fivexx, s.unexpected, mean, float64(s.max.Microseconds())/1000)
			}
			if fivexx > 0 {
				failures = append(failures, fmt.Sprintf("%s: %s: %d 5xx answers", phase, c.name, fivexx))
			}
			if s.transport > 0 {
				failures = append(failures, fmt.Sprintf("%s: %s: %d transport errors (first: %s)", phase, c.name, s.transport, s.example))
			}
			if s.unexpected > 0 {
				failures = append(failures, fmt.Sprintf("%s: %s: %d unexpected answers (first: %s)", phase, c.name, s.unexpected, s.example))
			}
		}
	}
	check("warm-up", warm)
	check("run", measured)
	var warmAll int
	for _, s := range warm {
		warmAll += s.requests
	}
	fmt.Fprintf(out, "\n%d requests in %s (%.0f/s); warm-up: %d requests, checked the same way\n", all, elapsed.Round(time.Second), float64(all)/elapsed.Seconds(), warmAll)

	limit := before.rss + before.rss*rssGrowthPct/100 + rssSlackMiB<<20
	fmt.Fprintf(out, "\nserver RSS: %.1f MiB after the warm-up, %.1f MiB at the end (%+.1f%%), peak sampled %.1f MiB, VmHWM %.1f MiB; bound %.1f MiB (+%d%% + %d MiB)\n",
		mib(before.rss), mib(after.rss), 100*float64(after.rss-before.rss)/float64(before.rss), mib(peak), mib(after.hwm), mib(limit), rssGrowthPct, rssSlackMiB)
	if after.rss > limit {
		failures = append(failures, fmt.Sprintf("RSS grew from %.1f to %.1f MiB, over the bound of %.1f MiB", mib(before.rss), mib(after.rss), mib(limit)))
	}
	if before.goroutines >= 0 && after.goroutines >= 0 {
		fmt.Fprintf(out, "goroutines: %d after the warm-up, %d at the end (bound +%d); Go heap in use: %.1f MiB, %.1f MiB\n",
			before.goroutines, after.goroutines, goroutineSlack, mib(before.heap), mib(after.heap))
		if after.goroutines > before.goroutines+goroutineSlack {
			failures = append(failures, fmt.Sprintf("goroutines grew from %d to %d", before.goroutines, after.goroutines))
		}
	} else {
		fmt.Fprintln(out, "goroutines and heap: the admin endpoint's /metrics did not say")
	}

	fmt.Fprintf(out, "caddy log: %d lines (%.1f MiB), %d errors, %d warnings, %d panics, %d leaks of a password, the secret or a token\n",
		ls.lines, mib(ls.bytes), ls.errors, ls.warnings, len(ls.panics), len(ls.leaks))
	if len(ls.panics) > 0 {
		failures = append(failures, fmt.Sprintf("%d log lines mention a panic (first: %s)", len(ls.panics), ls.panics[0]))
	}
	if len(ls.leaks) > 0 {
		failures = append(failures, fmt.Sprintf("%d log lines leak (first: %s)", len(ls.leaks), ls.leaks[0]))
	}
	return failures
}

// statusList is "200:123 401:4", by status.
func statusList(m map[int]int) string {
	codes := make([]int, 0, len(m))
	for c := range m {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	var b strings.Builder
	for i, c := range codes {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%d:%d", c, m[c])
	}
	if b.Len() == 0 {
		return "-"
	}
	return b.String()
}
