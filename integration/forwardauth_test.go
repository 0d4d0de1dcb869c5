package integration

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// forwardAccessTTL is the access_ttl of the forward-auth tests' issuer: short, so the tests
// see a session renewed through the proxy.
const forwardAccessTTL = 3 * time.Second

// gatehouseAuthServer is the Gatehouse Caddy the proxies ask: the issuer (login page, tokens)
// and two jwt_forward_auth endpoints, /auth/nginx (X-Original-*) and /auth/caddy (X-Forwarded-*,
// as Caddy's forward_auth, HAProxy and Traefik send), each with the routes of its proxies: any
// path of the proxy's host (nginx's with its port, 127.0.0.1 on any port for the others), /admin
// only for user 2. Only 127.0.0.1 is a trusted proxy. NGINX stands for nginx's port.
const gatehouseAuthServer = `
http://:PORT {
	jwt_issuer /api/token/* {
		user alice ` + aliceHash + ` {
			claim user_id 1
		}
		signing_key secret {env.GATEHOUSE_SECRET}
		rotate_refresh
		access_ttl ACCESS_TTL
		session
	}
	jwt_forward_auth /auth/nginx {
		session /api/token
		forward_claim user_id X-User-Id
		forwarded_headers x-original
		route 127.0.0.1:NGINX
		route 127.0.0.1:NGINX/admin {
			require user_id 2
		}
	}
	jwt_forward_auth /auth/caddy {
		session /api/token
		forward_claim user_id X-User-Id
		route 127.0.0.1
		route 127.0.0.1/admin {
			require user_id 2
		}
		route app.traefik.test
	}
	respond 404
}
`

// trustLoopbackProxy is the servers global option of the auth server.
const trustLoopbackProxy = "\tservers {\n\t\ttrusted_proxies static 127.0.0.1/32\n\t\ttrusted_proxies_strict\n\t}\n"

// forwardAuthSetup is the auth server, the apps behind the proxies and the ports.
type forwardAuthSetup struct {
	gatehouse *caddyServer
	app       *sessionApp // /api/: the demo app of the browser test
	echo      string      // /echo/ and /admin/: answers with the request headers
	nginxPort int
	caddyPort int
	site      string // examples/site, absolute
}

func newForwardAuthSetup(t *testing.T) *forwardAuthSetup {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	s := &forwardAuthSetup{app: newSessionApp(t), nginxPort: freePort(t), caddyPort: freePort(t),
		site: filepath.Join(root, "examples", "site")}
	up, _ := echoUpstream(t)
	s.echo = strings.TrimPrefix(up.URL, "http://")
	inst := newCaddyInstance(t, "GATEHOUSE_SECRET="+testSecret)
	cfg := strings.NewReplacer("NGINX", strconv.Itoa(s.nginxPort),
		"ACCESS_TTL", forwardAccessTTL.String()).Replace(gatehouseAuthServer)
	s.gatehouse = inst.startSites(t, cfg, trustLoopbackProxy)
	return s
}

// startNginx runs Debian's nginx with testdata/nginx/nginx.conf, in its own prefix directory
// on 127.0.0.1:<nginxPort>, in front of the auth server and the apps; it is stopped when the
// test ends and its error log printed if the test failed.
func (s *forwardAuthSetup) startNginx(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		bin = "/usr/sbin/nginx"
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("nginx is missing: apt-get install nginx (./xcaddy.sh test does)")
		}
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o700); err != nil {
		t.Fatal(err)
	}
	userLine := ""
	if os.Geteuid() == 0 {
		// As root nginx would run its workers as nobody, who cannot read the test's directories.
		userLine = "user root;"
	}
	fill := strings.NewReplacer("USER_LINE", userLine, "DIR", dir, "PORT", strconv.Itoa(s.nginxPort),
		"GATEHOUSE", strings.TrimPrefix(s.gatehouse.URL, "http://"), "APP", strings.TrimPrefix(s.app.URL, "http://"),
		"ECHO", s.echo, "SITE", s.site)
	for _, name := range []string{"nginx.conf", "gatehouse-server.conf", "gatehouse-auth.conf"} {
		b, err := os.ReadFile(filepath.Join("testdata", "nginx", name))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, name), fill.Replace(string(b)))
	}
	cmd := exec.Command(bin, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "error.log"), "-g", "daemon off;")
	return startProxyProcess(t, "nginx", cmd, dir, s.nginxPort)
}

// frontCaddy is the second Caddy's site: the demo site with Gatehouse asked through
// reverse_proxy as Caddy's forward_auth expands to it, plus the handle_response lines that pass
// a renewed session's cookies on (forward_auth copies headers onto the request only), and on
// /short/ the forward_auth shorthand, enough for bearer tokens. The routes are in one route
// block, so they run as written.
const frontCaddy = `
(gatehouse) {
	reverse_proxy {args[0]} GATEHOUSE {
		method GET
		rewrite /auth/caddy
		header_up X-Forwarded-Method {method}
		header_up X-Forwarded-Uri {uri}

		@allowed status 2xx
		handle_response @allowed {
			# In this order: the client's copies go first.
			route {
				request_header -Remote-User
				request_header -X-User-Id
				request_header -Cookie
				@user not vars {rp.header.Remote-User} ""
				request_header @user Remote-User {rp.header.Remote-User}
				@user_id not vars {rp.header.X-User-Id} ""
				request_header @user_id X-User-Id {rp.header.X-User-Id}
				@cookie not vars {rp.header.Cookie} ""
				request_header @cookie Cookie {rp.header.Cookie}
				@set_cookie_1 not vars {rp.header.Gatehouse-Set-Cookie-1} ""
				header @set_cookie_1 +Set-Cookie {rp.header.Gatehouse-Set-Cookie-1}
				@set_cookie_2 not vars {rp.header.Gatehouse-Set-Cookie-2} ""
				header @set_cookie_2 +Set-Cookie {rp.header.Gatehouse-Set-Cookie-2}
				@cache_control not vars {rp.header.Cache-Control} ""
				header @cache_control Cache-Control {rp.header.Cache-Control}
			}
		}
	}
}

http://:PORT {
	root * SITE
	route {
		handle /api/token/* {
			reverse_proxy GATEHOUSE
		}
		@protected path /private /private/* /api/* /echo/* /admin/*
		import gatehouse @protected
		forward_auth /short/* GATEHOUSE {
			uri /auth/caddy
			copy_headers Remote-User X-User-Id
		}
		handle /api/* {
			reverse_proxy APP
		}
		@echo path /echo/* /admin/* /short/*
		handle @echo {
			reverse_proxy ECHO
		}
		file_server
	}
}
`

// startFrontCaddy runs the second Caddy (frontCaddy) on caddyPort.
func (s *forwardAuthSetup) startFrontCaddy(t *testing.T) string {
	t.Helper()
	inst := newCaddyInstance(t)
	inst.port = s.caddyPort
	cfg := strings.NewReplacer("GATEHOUSE", strings.TrimPrefix(s.gatehouse.URL, "http://"),
		"APP", strings.TrimPrefix(s.app.URL, "http://"), "ECHO", s.echo, "SITE", s.site).Replace(frontCaddy)
	return inst.startSites(t, cfg).URL
}

// TestForwardAuthNginx: nginx's auth_request asks Gatehouse about every request for /private/
// (static files) and for the proxied apps.
func TestForwardAuthNginx(t *testing.T) {
	t.Parallel()
	s := newForwardAuthSetup(t)
	proxy := s.startNginx(t)
	forwardAuthChecks(t, s, proxy, "/auth/nginx", []string{
		"X-Original-URL: http://127.0.0.1:" + strconv.Itoa(s.nginxPort) + "/echo/",
		"X-Original-Method: GET",
	})
}

// TestForwardAuthCaddy: Caddy's forward_auth (a second Caddy process) in front of the same
// site and apps.
func TestForwardAuthCaddy(t *testing.T) {
	t.Parallel()
	s := newForwardAuthSetup(t)
	proxy := s.startFrontCaddy(t)
	forwardAuthChecks(t, s, proxy, "/auth/caddy", []string{
		"X-Forwarded-Method: GET", "X-Forwarded-Proto: http", "X-Forwarded-Uri: /echo/",
		"X-Forwarded-Host: 127.0.0.1:" + strconv.Itoa(s.caddyPort),
	})

	// The shorthand, for bearer tokens: identity copied, the client's copy replaced.
	access := login(t, proxy)
	h := upstreamHeaders(t, get(t, proxy+"/short/", bearer(access), "X-User-Id: 999", "Remote-User: mallory"))
	if got := h.Values("X-User-Id"); len(got) != 1 || got[0] != "1" {
		t.Errorf("forward_auth shorthand: the app got X-User-Id %q, want 1", got)
	}
	if r := get(t, proxy+"/short/"); r.Status != http.StatusUnauthorized {
		t.Errorf("forward_auth shorthand without a token: %d", r.Status)
	}
}

// startHAProxy runs Debian's HAProxy with testdata/haproxy/ (its Lua action asks Gatehouse)
// on a free loopback port in front of the auth server, the apps and a file server of the demo
// site; it is stopped when the test ends.
func (s *forwardAuthSetup) startHAProxy(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		bin = "/usr/sbin/haproxy"
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("haproxy is missing: apt-get install haproxy (./xcaddy.sh test does)")
		}
	}
	site := httptest.NewServer(http.FileServer(http.Dir(s.site)))
	t.Cleanup(site.Close)
	dir := t.TempDir()
	port := freePort(t)
	fill := strings.NewReplacer("DIR", dir, "PORT", strconv.Itoa(port),
		"GATEHOUSE", strings.TrimPrefix(s.gatehouse.URL, "http://"), "APP", strings.TrimPrefix(s.app.URL, "http://"),
		"ECHO", s.echo, "SITE", strings.TrimPrefix(site.URL, "http://"))
	for _, name := range []string{"haproxy.cfg", "gatehouse.lua"} {
		b, err := os.ReadFile(filepath.Join("testdata", "haproxy", name))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, name), fill.Replace(string(b)))
	}
	cmd := exec.Command(bin, "-db", "-f", filepath.Join(dir, "haproxy.cfg"))
	cmd.Dir = dir
	return startProxyProcess(t, "haproxy", cmd, dir, port)
}

// startProxyProcess starts cmd (a proxy listening on 127.0.0.1:port) with its output in
// dir/stdout.log, waits until the port accepts connections, and stops it with SIGTERM when the
// test ends, printing its output (and dir/error.log) if the test failed.
func startProxyProcess(t *testing.T, name string, cmd *exec.Cmd, dir string, port int) string {
	t.Helper()
	out, err := os.Create(filepath.Join(dir, "stdout.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); out.Close(); close(exited) }()
	dump := func() {
		for _, f := range []string{"stdout.log", "error.log"} {
			if b, err := os.ReadFile(filepath.Join(dir, f)); err == nil {
				t.Logf("%s %s:\n%s", name, f, b)
			}
		}
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			dump()
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	up := eventually(10*time.Second, func() bool {
		select {
		case <-exited:
			return true
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	select {
	case <-exited:
		t.Fatalf("%s exited at start", name)
	default:
	}
	if !up {
		t.Fatalf("%s did not listen on %s within 10s", name, addr)
	}
	return "http://" + addr
}

// TestForwardAuthHAProxy: HAProxy, with the Lua action of docs/forward-auth.md's configuration, in front of
// the same site and apps.
func TestForwardAuthHAProxy(t *testing.T) {
	t.Parallel()
	s := newForwardAuthSetup(t)
	proxy := s.startHAProxy(t)
	forwardAuthChecks(t, s, proxy, "/auth/caddy", []string{
		"X-Forwarded-Method: GET", "X-Forwarded-Proto: http", "X-Forwarded-Uri: /echo/",
		"X-Forwarded-Host: " + strings.TrimPrefix(proxy, "http://"),
	})
}

// TestForwardAuthTraefikHeaders sends the auth sub-request exactly as Traefik's forwardAuth
// middleware does (Traefik v3 cannot be built here: its go.mod replace directives point at forks
// the module proxy does not serve), from a trusted address, to the endpoint docs/forward-auth.md's Traefik
// configurations use.
func TestForwardAuthTraefikHeaders(t *testing.T) {
	t.Parallel()
	s := newForwardAuthSetup(t)
	access := login(t, s.gatehouse.URL)
	// Traefik: the client's headers, then X-Forwarded-{Method,Proto,Host,Uri,For,Port,Server}
	// and X-Real-Ip; GET, no body.
	traefik := []string{
		"X-Forwarded-Method: PUT", "X-Forwarded-Proto: https", "X-Forwarded-Host: app.traefik.test",
		"X-Forwarded-Uri: /notes/7?x=1", "X-Forwarded-For: 203.0.113.9", "X-Forwarded-Port: 443",
		"X-Forwarded-Server: traefik-1", "X-Real-Ip: 203.0.113.9", "User-Agent: curl/8",
	}
	r := get(t, s.gatehouse.URL+"/auth/caddy", append(traefik, bearer(access))...)
	if r.Status != http.StatusOK || r.Header.Get("X-User-Id") != "1" || r.Header.Get("Remote-User") == "" {
		t.Fatalf("Traefik's sub-request with a token: %d %q", r.Status, r.Header)
	}
	if r := get(t, s.gatehouse.URL+"/auth/caddy", traefik...); r.Status != http.StatusUnauthorized || r.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("Traefik's sub-request without a token: %d", r.Status)
	}
	browser := append([]string{"Accept: text/html"}, traefik...)
	browser[1] = "X-Forwarded-Method: GET"
	r = get(t, s.gatehouse.URL+"/auth/caddy", browser...)
	if r.Status != http.StatusFound || r.Header.Get("Location") != "/api/token/login?next=%2Fnotes%2F7%3Fx%3D1" {
		t.Errorf("Traefik's sub-request of a browser: %d %q", r.Status, r.Header.Get("Location"))
	}
	// A host the endpoint has no route for.
	other := append([]string{"X-Forwarded-Host: other.test"}, traefik[:2]...)
	other = append(other, traefik[3:]...)
	if r := get(t, s.gatehouse.URL+"/auth/caddy", append(other, bearer(access))...); r.Status != http.StatusForbidden {
		t.Errorf("a host without a route: %d", r.Status)
	}
}

// login gets an access token from the issuer at base (directly or through a proxy).
func login(t *testing.T, base string) string {
	t.Helper()
	access, _ := tokens(t, postJSON(t, base+"/api/token/", credentials("alice", "alice-pw")))
	return access
}

// forwardAuthChecks are the checks both proxies must pass. endpoint is the proxy's Gatehouse
// endpoint and forged the forwarding headers of a sub-request for /echo/ on the proxy's host.
func forwardAuthChecks(t *testing.T, s *forwardAuthSetup, proxy, endpoint string, forged []string) {
	t.Helper()
	if r := get(t, proxy+"/"); r.Status != http.StatusOK || !strings.Contains(r.Body, "Gatehouse demo") {
		t.Fatalf("the public page: %d", r.Status)
	}
	access := login(t, proxy)

	// A valid bearer token passes, with the identity; the client's identity headers (and their
	// underscore spellings) never reach the app.
	h := upstreamHeaders(t, get(t, proxy+"/echo/", bearer(access), "X-User-Id: 999", "Remote-User: mallory", "X_User_Id: 999"))
	if got := h.Values("X-User-Id"); len(got) != 1 || got[0] != "1" {
		t.Errorf("the app got X-User-Id %q, want 1", got)
	}
	if got := h.Values("Remote-User"); len(got) != 1 || got[0] == "mallory" {
		t.Errorf("the app got Remote-User %q", got)
	}
	for name := range h {
		if strings.Contains(name, "_") {
			t.Errorf("the app got %s: %q", name, h[name])
		}
	}
	// Without a valid token, nothing reaches the app, and the identity headers sent stay out.
	expired := rawHS256(testSecret, `{"alg":"HS256","typ":"JWT"}`,
		fmt.Sprintf(`{"user_id":1,"token_type":"access","exp":%d}`, time.Now().Add(-time.Hour).Unix()))
	for _, c := range []struct {
		name    string
		headers []string
		status  int
	}{
		{"no token", nil, http.StatusUnauthorized},
		{"an invalid token", []string{bearer(access[:len(access)-4] + "AAAA")}, http.StatusUnauthorized},
		{"an expired token", []string{bearer(expired)}, http.StatusUnauthorized},
	} {
		r := get(t, proxy+"/echo/", append(c.headers, "X-User-Id: 1")...)
		if r.Status != c.status || r.Header.Get("WWW-Authenticate") == "" || strings.Contains(r.Body, "X-User-Id") {
			t.Errorf("%s: %d %q %s, want %d with WWW-Authenticate", c.name, r.Status, r.Header.Get("WWW-Authenticate"), r.Body, c.status)
		}
	}
	// A route rule: /admin/ is for user 2.
	if r := get(t, proxy+"/admin/", bearer(access)); r.Status != http.StatusForbidden {
		t.Errorf("/admin/ as user 1: %d, want 403", r.Status)
	}

	// Forged forwarding headers change nothing: through the proxy (it sets its own) ...
	spoof := []string{
		"X-Original-URL: http://127.0.0.1:" + strconv.Itoa(s.nginxPort) + "/echo/", "X-Original-Method: GET",
		"X-Forwarded-Host: 127.0.0.1:" + strconv.Itoa(s.caddyPort), "X-Forwarded-Uri: /echo/", "X-Forwarded-Method: GET",
	}
	if r := get(t, proxy+"/admin/", append(spoof, bearer(access))...); r.Status != http.StatusForbidden {
		t.Errorf("/admin/ with forged forwarding headers: %d, want 403", r.Status)
	}
	if r := get(t, proxy+"/echo/", spoof...); r.Status != http.StatusUnauthorized {
		t.Errorf("/echo/ without a token, forged forwarding headers: %d, want 401", r.Status)
	}
	// ... and straight to Gatehouse from an address that is not a trusted proxy: refused, even
	// with a valid token, so the endpoint vouches for nothing it was not asked by the proxy.
	if r := getFrom(t, "127.0.0.2", s.gatehouse.URL+endpoint, append(forged, bearer(access))...); r.Status != http.StatusForbidden || r.Header.Get("X-User-Id") != "" {
		t.Errorf("%s from an untrusted address: %d %q", endpoint, r.Status, r.Header)
	}
	// From the trusted address the same request is answered: the refusal above was the address.
	if r := get(t, s.gatehouse.URL+endpoint, append(forged, bearer(access))...); r.Status != http.StatusOK || r.Header.Get("X-User-Id") != "1" {
		t.Errorf("%s from the trusted proxy address: %d", endpoint, r.Status)
	}

	browserFlow(t, s, proxy)
	if !t.Failed() {
		chromiumFlow(t, s, proxy)
	}
}

// browserFlow follows a browser's steps with cookies: the login redirect through the proxy, the
// login form, the page asked for, and an expired access cookie renewed through the proxy.
func browserFlow(t *testing.T, s *forwardAuthSetup, proxy string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	send := func(method, target, body string, headers ...string) response {
		t.Helper()
		req, err := http.NewRequest(method, target, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
		for _, h := range headers {
			name, value, _ := strings.Cut(h, ": ")
			req.Header.Set(name, value)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, target, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return response{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
	}
	r := send(http.MethodGet, proxy+"/private/", "")
	if r.Status != http.StatusFound || r.Header.Get("Location") != "/api/token/login?next=%2Fprivate%2F" {
		t.Fatalf("/private/ without a session: %d %q", r.Status, r.Header.Get("Location"))
	}
	if r = send(http.MethodGet, proxy+r.Header.Get("Location"), ""); r.Status != http.StatusOK || !strings.Contains(r.Body, `name="next" value="/private/"`) {
		t.Fatalf("the login page through the proxy: %d %s", r.Status, r.Body)
	}
	form := url.Values{"username": {"alice"}, "password": {"alice-pw"}, "next": {"/private/"}}.Encode()
	r = send(http.MethodPost, proxy+"/api/token/login", form, "Origin: "+proxy, "Content-Type: application/x-www-form-urlencoded")
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/private/" {
		t.Fatalf("logging in through the proxy: %d %q", r.Status, r.Header.Get("Location"))
	}
	if r = send(http.MethodGet, proxy+"/private/", ""); r.Status != http.StatusOK || !strings.Contains(r.Body, "Private page") {
		t.Fatalf("/private/ after logging in: %d", r.Status)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "private, no-cache" {
		t.Errorf("/private/ of a session: Cache-Control %q, want private, no-cache", cc)
	}
	before := sessionCookieValues(jar, proxy)

	// Past the access lifetime the browser drops the access cookie; the proxy's answer renews
	// the session and passes both new cookies on.
	time.Sleep(forwardAccessTTL + 1500*time.Millisecond)
	r = send(http.MethodGet, proxy+"/api/whoami/", "", "Accept: application/json")
	if r.Status != http.StatusOK || !strings.Contains(r.Body, `"user_id":"1"`) {
		t.Fatalf("the app after the access lifetime: %d %s", r.Status, r.Body)
	}
	after := sessionCookieValues(jar, proxy)
	if after["gatehouse_access"] == "" || after["gatehouse_access"] == before["gatehouse_access"] ||
		after["gatehouse_refresh"] == "" || after["gatehouse_refresh"] == before["gatehouse_refresh"] {
		t.Fatalf("cookies not renewed through the proxy: before %v after %v (Set-Cookie %q)", before, after, r.Header.Values("Set-Cookie"))
	}
	if r = send(http.MethodGet, proxy+"/private/", ""); r.Status != http.StatusOK {
		t.Fatalf("/private/ with the renewed cookies: %d", r.Status)
	}
	// A state-changing request carried by the cookie from another site's page is refused.
	if r = send(http.MethodPost, proxy+"/api/echo/", `{}`, "Origin: http://evil.example", "Content-Type: application/json"); r.Status != http.StatusForbidden {
		t.Errorf("cross-site POST through the proxy: %d, want 403", r.Status)
	}
	for _, seen := range s.app.seen() {
		if seen.refreshCookie {
			t.Errorf("the app got the refresh cookie with %s %s", seen.method, seen.path)
		}
		if seen.userID != "1" {
			t.Errorf("the app got X-User-Id %q with %s %s", seen.userID, seen.method, seen.path)
		}
	}
}

// sessionCookieValues are the session cookies jar holds for base.
func sessionCookieValues(jar http.CookieJar, base string) map[string]string {
	u, _ := url.Parse(base)
	out := map[string]string{}
	for _, c := range jar.Cookies(u) {
		out[c.Name] = c.Value
	}
	return out
}

// chromiumFlow runs the browser test's driver (integration/browser/session.mjs, headless
// Chromium) against the proxy: the same steps as against Caddy with jwt_auth, with the
// cross-site bounce answered 401 (a forward-auth answer is never a 2xx unless it lets the
// request through).
func chromiumFlow(t *testing.T, s *forwardAuthSetup, proxy string) {
	t.Helper()
	node := browserTools(t)
	artifacts, err := filepath.Abs(filepath.Join("..", "bin", "artifacts", "forwardauth-"+strings.ToLower(strings.TrimPrefix(t.Name(), "TestForwardAuth"))))
	if err != nil {
		t.Fatal(err)
	}
	other := newOtherSite(t, proxy)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "session.mjs", proxy, artifacts, other)
	cmd.Dir = browserDir
	cmd.Env = append(os.Environ(),
		"GATEHOUSE_USER=alice", "GATEHOUSE_PASSWORD=alice-pw", "GATEHOUSE_USER_ID=1",
		"GATEHOUSE_ACCESS_TTL_MS="+strconv.FormatInt(forwardAccessTTL.Milliseconds(), 10),
		"GATEHOUSE_BOUNCE_STATUS=401",
		"GATEHOUSE_CHROMIUM="+chromiumPath())
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node session.mjs through the proxy: %v after %s\n%s\nscreenshots: %s", err, time.Since(start).Round(time.Millisecond), out, artifacts)
	}
	t.Logf("node session.mjs through the proxy (%s):\n%s", time.Since(start).Round(time.Millisecond), out)
	for _, seen := range s.app.seen() {
		if seen.refreshCookie {
			t.Errorf("the app got the refresh cookie with %s %s", seen.method, seen.path)
		}
		if seen.userID != "1" {
			t.Errorf("the app got X-User-Id %q with %s %s", seen.userID, seen.method, seen.path)
		}
	}
}

// newOtherSite serves a page of another site (localhost is not the same site as 127.0.0.1)
// for session.mjs: a form posting to the site's logout, and at /link a plain link to its
// private page. It returns the site's URL.
func newOtherSite(t *testing.T, site string) string {
	t.Helper()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if r.URL.Path == "/link" {
			fmt.Fprintf(w, `<!DOCTYPE html><title>Another site</title><h1>Another site</h1>`+
				`<a id="go" href="%s/private/">Our private page</a>`, html.EscapeString(site))
			return
		}
		fmt.Fprintf(w, `<!DOCTYPE html><title>Another site</title><h1>Another site</h1>`+
			`<form method="post" action="%s/api/token/logout"><button type="submit">Win a prize</button></form>`,
			html.EscapeString(site))
	}))
	t.Cleanup(other.Close)
	_, port, err := net.SplitHostPort(strings.TrimPrefix(other.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	return "http://localhost:" + port
}

// getFrom is get over a connection from the local address ip (a loopback address other than
// 127.0.0.1 is another client to the server).
func getFrom(t *testing.T, ip, target string, headers ...string) response {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	c := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ": ")
		req.Header.Add(name, value)
	}
	resp, err := c.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) {
			t.Fatalf("GET %s from %s: %v (is %s a local address?)", target, ip, err, ip)
		}
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
}
