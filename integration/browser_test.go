package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The browser test's tools: Debian's chromium, and node with playwright-core from
// integration/browser/package-lock.json.
const (
	defaultChromium = "/usr/bin/chromium"
	browserDir      = "browser"
	// browserAccessTTL is the issuer's access_ttl: short, so that the driver waits past it twice
	// and sees the session renewed.
	browserAccessTTL = 3 * time.Second
)

// TestBrowserSession drives a real headless Chromium (integration/browser/session.mjs, with
// playwright-core) through the browser sessions of Caddyfile.example's demo site: the login
// redirect, the login form, the private page and its API call, silent renewal after the access
// cookie expired (a reload, and a POST whose body must reach the app intact), a cross-site
// logout form, logout, a replayed refresh cookie, a wrong password and open-redirect attempts
// through next. The screenshots of every step go to $GATEHOUSE_ARTIFACTS/browser (default
// bin/artifacts/browser).
func TestBrowserSession(t *testing.T) {
	t.Parallel()
	node := browserTools(t)
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	artifacts := filepath.Join(root, "bin", "artifacts", "browser")
	if dir := os.Getenv("GATEHOUSE_ARTIFACTS"); dir != "" {
		// Absolute: node runs in integration/browser, not here.
		if artifacts, err = filepath.Abs(filepath.Join(dir, "browser")); err != nil {
			t.Fatal(err)
		}
	}

	// The demo site exactly as shipped (Caddyfile.example: examples/site, the demo user, the
	// issuer with rotate_refresh and session, jwt_auth session on /private and /api/*), with a
	// short access lifetime and the test's app behind /api/*.
	app := newSessionApp(t)
	srv := startCaddy(t, withAccessTTL(t, exampleSite(t, "Caddyfile.example"), browserAccessTTL),
		"GATEHOUSE_SECRET="+testSecret, "GATEHOUSE_APP="+strings.TrimPrefix(app.URL, "http://"))

	// Another site: a page on another origin (localhost is not the same site as 127.0.0.1)
	// with a form that posts to the site's logout.
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if r.URL.Path == "/link" {
			// A plain link to the private page, as in a mail or a chat.
			fmt.Fprintf(w, `<!DOCTYPE html><title>Another site</title><h1>Another site</h1>`+
				`<a id="go" href="%s/private/">Our private page</a>`, html.EscapeString(srv.URL))
			return
		}
		fmt.Fprintf(w, `<!DOCTYPE html><title>Another site</title><h1>Another site</h1>`+
			`<form method="post" action="%s/api/token/logout"><button type="submit">Win a prize</button></form>`,
			html.EscapeString(srv.URL))
	}))
	t.Cleanup(other.Close)
	_, otherPort, err := net.SplitHostPort(strings.TrimPrefix(other.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "session.mjs", srv.URL, artifacts, "http://localhost:"+otherPort)
	cmd.Dir = browserDir
	cmd.Env = append(os.Environ(),
		"GATEHOUSE_USER=demo", "GATEHOUSE_PASSWORD=gatehouse-demo", "GATEHOUSE_USER_ID=1", // Caddyfile.example's demo user
		"GATEHOUSE_ACCESS_TTL_MS="+strconv.FormatInt(browserAccessTTL.Milliseconds(), 10),
		"GATEHOUSE_CHROMIUM="+chromiumPath())
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node session.mjs: %v after %s\n%s\nscreenshots: %s", err, time.Since(start).Round(time.Millisecond), out, artifacts)
	}
	t.Logf("node session.mjs (%s):\n%sscreenshots: %s", time.Since(start).Round(time.Millisecond), out, artifacts)

	// What the app saw: the user on every request, and never the refresh cookie.
	seen := app.seen()
	var echoes int
	for _, r := range seen {
		if r.refreshCookie {
			t.Errorf("the app got the refresh cookie with %s %s", r.method, r.path)
		}
		if r.userID != "1" {
			t.Errorf("the app got X-User-Id %q with %s %s, want 1", r.userID, r.method, r.path)
		}
		if r.path == "/api/echo/" {
			echoes++
		}
	}
	if echoes != 1 {
		t.Errorf("the app got %d POST /api/echo/, want 1 (all requests: %+v)", echoes, seen)
	}
}

// withAccessTTL adds `access_ttl <ttl>` to the one jwt_issuer of site, after its rotate_refresh.
func withAccessTTL(t *testing.T, site string, ttl time.Duration) string {
	t.Helper()
	const anchor = "\t\trotate_refresh\n"
	if strings.Count(site, anchor) != 1 || strings.Contains(site, "access_ttl") {
		t.Fatalf("Caddyfile.example no longer has one jwt_issuer with rotate_refresh (and no access_ttl):\n%s", site)
	}
	return strings.Replace(site, anchor, anchor+"\t\taccess_ttl "+ttl.String()+"\n", 1)
}

// browserTools returns node's path, after checking for chromium and installing the driver's
// npm packages (npm ci, from package-lock.json) when they are missing. A missing tool fails the
// test: it is never skipped.
func browserTools(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(chromiumPath()); err != nil {
		t.Fatalf("chromium is missing (%v): apt-get install chromium (./xcaddy.sh test does), or set GATEHOUSE_CHROMIUM", err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is missing: apt-get install nodejs npm (./xcaddy.sh test does)")
	}
	if _, err := os.Stat(filepath.Join(browserDir, "node_modules", "playwright-core", "package.json")); err == nil {
		return node
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Fatalf("npm is missing (needed to install integration/browser's packages): apt-get install npm")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = browserDir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in integration/browser: %v\n%s", err, out)
	}
	return node
}

// chromiumPath is $GATEHOUSE_CHROMIUM, else Debian's chromium.
func chromiumPath() string {
	if p := os.Getenv("GATEHOUSE_CHROMIUM"); p != "" {
		return p
	}
	return defaultChromium
}

// sessionApp is the app behind the browser test's Caddy, with the example Django app's API:
// GET /api/whoami/ answers {"user_id": <X-User-Id>}, POST /api/echo/ {"user_id": ...,
// "body": <the request body as text>}. It records what it saw of every request.
type sessionApp struct {
	*httptest.Server
	mu       sync.Mutex
	requests []appRequest
}

// appRequest is what sessionApp saw of one request.
type appRequest struct {
	method, path, userID string
	refreshCookie        bool // a gatehouse_refresh cookie reached the app
}

func newSessionApp(t *testing.T) *sessionApp {
	t.Helper()
	a := &sessionApp{}
	a.Server = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.Close)
	return a
}

func (a *sessionApp) serve(w http.ResponseWriter, r *http.Request) {
	_, err := r.Cookie("gatehouse_refresh")
	a.mu.Lock()
	a.requests = append(a.requests, appRequest{
		method: r.Method, path: r.URL.Path, userID: r.Header.Get("X-User-Id"),
		refreshCookie: err == nil || strings.Contains(r.Header.Get("Cookie"), "gatehouse_refresh"),
	})
	a.mu.Unlock()
	answer := map[string]any{"user_id": r.Header.Get("X-User-Id")}
	switch {
	case r.URL.Path == "/api/whoami/" && r.Method == http.MethodGet:
	case r.URL.Path == "/api/echo/" && r.Method == http.MethodPost:
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		answer["body"] = string(body)
	default:
		http.NotFound(w, r)
		return
	}
	var buf bytes.Buffer
	_ = json.NewEncoder(&buf).Encode(answer)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(buf.Bytes())
}

// seen is a copy of the requests the app has seen.
func (a *sessionApp) seen() []appRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]appRequest(nil), a.requests...)
}
