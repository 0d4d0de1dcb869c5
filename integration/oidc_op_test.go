package integration

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// The Gatehouse OpenID provider's test clients. The redirect URIs are on hosts that do not
// exist: the tests read the Location headers, and Chromium's requests there are answered by
// the driver (integration/oidcclient/rp.mjs).
const (
	opClientDir      = "oidcclient"
	opClientID       = "webapp"
	opClientSecret   = "webapp-client-secret"
	opRedirectURI    = "https://rp.example/cb"
	opLogoutURI      = "https://rp.example/bye"
	opSPAID          = "spa"
	opSPARedirectURI = "https://spa.example/cb"
	opOtherID        = "other"
	opOtherRedirect  = "https://other.example/cb"
	opVerifier       = "integration-test-pkce-verifier-0123456789-abcdefghijklmnopqrstuvwxyz"
)

// opSite is a site whose issuer at /auth is an OpenID provider with three clients; PORT is the
// instance's port, so that the issuer URL is the server's own.
func opSite(t *testing.T) string {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(opClientSecret), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf(`http://127.0.0.1:PORT {
	jwt_issuer /auth/* {
		user alice %[1]s {
			claim email alice@example.com
			claim name "Alice Liddell"
			claim groups admins editors
		}
		issuer http://127.0.0.1:PORT/auth
		rotate_refresh
		session
		provider {
			client %[2]s {
				secret_hash %[3]s
				redirect_uri %[4]s
				post_logout_redirect_uri %[5]s
				claims groups
			}
			client %[6]s {
				public
				redirect_uri %[7]s
			}
			client %[8]s {
				secret_hash %[3]s
				redirect_uri %[9]s
			}
		}
	}
	respond "app" 200
}
`, aliceHash, opClientID, hash, opRedirectURI, opLogoutURI, opSPAID, opSPARedirectURI, opOtherID, opOtherRedirect)
}

// TestOIDCProviderOpenIDClient runs a real, certified relying party, npm openid-client 6
// (pinned in integration/oidcclient/package-lock.json), against Gatehouse's provider in the
// built Caddy, with headless Chromium doing the user's login: discovery, the code flow with
// PKCE, ID token validation, userinfo, refresh rotation and reuse detection, a second sign-in
// without login, a public client, an unregistered redirect URI, end_session (see rp.mjs).
func TestOIDCProviderOpenIDClient(t *testing.T) {
	t.Parallel()
	node := opClientTools(t)
	srv := newCaddyInstance(t).startSites(t, opSite(t))
	// The apps' pages: Chromium resolves rp.example and spa.example to this server.
	app := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, "<!DOCTYPE html><title>app</title><p>back at the app</p>\n")
	}))
	// Chromium tries the test certificate before it is told to ignore it: not worth a log line.
	app.Config.ErrorLog = log.New(io.Discard, "", 0)
	app.StartTLS()
	t.Cleanup(app.Close)
	appURL, _ := url.Parse(app.URL)
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	artifacts := filepath.Join(root, "bin", "artifacts", "oidcclient")
	if dir := os.Getenv("GATEHOUSE_ARTIFACTS"); dir != "" {
		if artifacts, err = filepath.Abs(filepath.Join(dir, "oidcclient")); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "rp.mjs", srv.URL+"/auth", artifacts)
	cmd.Dir = opClientDir
	cmd.Env = append(os.Environ(),
		"GATEHOUSE_USER=alice", "GATEHOUSE_PASSWORD=alice-pw",
		"GATEHOUSE_CLIENT_ID="+opClientID, "GATEHOUSE_CLIENT_SECRET="+opClientSecret,
		"GATEHOUSE_REDIRECT_URI="+opRedirectURI, "GATEHOUSE_LOGOUT_URI="+opLogoutURI,
		"GATEHOUSE_SPA_ID="+opSPAID, "GATEHOUSE_SPA_REDIRECT_URI="+opSPARedirectURI,
		"GATEHOUSE_APP_PORT="+appURL.Port(), "GATEHOUSE_CHROMIUM="+chromiumPath(), "GATEHOUSE_DEBUG="+os.Getenv("GATEHOUSE_DEBUG"))
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node rp.mjs: %v after %s\n%s\nscreenshots: %s", err, time.Since(start).Round(time.Millisecond), out, artifacts)
	}
	t.Logf("node rp.mjs (%s):\n%s", time.Since(start).Round(time.Millisecond), out)
}

// opClientTools returns node's path, after checking for chromium and installing the npm
// packages of integration/oidcclient (npm ci) when they are missing. Never skipped.
func opClientTools(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(chromiumPath()); err != nil {
		t.Fatalf("chromium is missing (%v): apt-get install chromium, or set GATEHOUSE_CHROMIUM", err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is missing: apt-get install nodejs npm")
	}
	if _, err := os.Stat(filepath.Join(opClientDir, "node_modules", "openid-client", "package.json")); err == nil {
		if _, err := os.Stat(filepath.Join(opClientDir, "node_modules", "playwright-core", "package.json")); err == nil {
			return node
		}
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Fatalf("npm is missing (needed to install integration/oidcclient's packages): apt-get install npm")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = opClientDir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in integration/oidcclient: %v\n%s", err, out)
	}
	return node
}

// opBrowser is a cookie jar that follows no redirect: a browser as the hostile tests need it.
type opBrowser struct {
	t      *testing.T
	srv    *caddyServer
	client *http.Client
}

func newOPBrowser(t *testing.T, srv *caddyServer) *opBrowser {
	jar, _ := cookiejar.New(nil)
	return &opBrowser{t: t, srv: srv, client: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// login signs the browser in as alice with the login form.
func (b *opBrowser) login() {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.srv.URL+"/auth/login", strings.NewReader(form("alice", "alice-pw")))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.srv.URL)
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("login: %d", resp.StatusCode)
	}
}

// follow goes from u through the provider's redirects until one leaves its host; it returns
// that Location ("" when none did), the last status and body. Every Location seen is returned
// too, to check where the browser was sent.
func (b *opBrowser) follow(u string) (left string, status int, body string, seen []string) {
	b.t.Helper()
	for range 10 {
		resp, err := b.client.Get(u)
		if err != nil {
			b.t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if loc == "" {
			return "", resp.StatusCode, string(data), seen
		}
		base, _ := url.Parse(u)
		next, err := base.Parse(loc)
		if err != nil {
			b.t.Fatal(err)
		}
		seen = append(seen, next.String())
		if "http://"+next.Host != b.srv.URL {
			return next.String(), resp.StatusCode, "", seen
		}
		u = next.String()
	}
	b.t.Fatal("too many redirects")
	return
}

func (b *opBrowser) authorize(client, redirect string, extra ...string) string {
	q := url.Values{"client_id": {client}, "redirect_uri": {redirect}, "response_type": {"code"},
		"scope": {"openid profile offline_access"}, "state": {"st"}}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return b.srv.URL + "/auth/authorize?" + q.Encode()
}

// code signs in for client and returns the code the app got.
func (b *opBrowser) code(client, redirect string, extra ...string) string {
	b.t.Helper()
	left, status, body, _ := b.follow(b.authorize(client, redirect, extra...))
	u, _ := url.Parse(left)
	if !strings.HasPrefix(left, redirect+"?") || u.Query().Get("code") == "" {
		b.t.Fatalf("no code: %q %d %s", left, status, body)
	}
	return u.Query().Get("code")
}

// tokenRequest posts form to the token endpoint with client_secret_basic when id is set.
func opToken(t *testing.T, srv *caddyServer, id, secret string, form url.Values) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/auth/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(id, secret)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func opCodeForm(code, redirect string, extra ...string) url.Values {
	v := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return v
}

func s256(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// TestOIDCProviderHostile sends the built Caddy's provider every bad request the specs name an
// error for (RFC 6749 §4.1.2.1 and §5.2, OpenID Connect Core §3.1.2.6): each gets that error,
// never a 5xx, and the browser is never sent to an address that was not registered.
func TestOIDCProviderHostile(t *testing.T) {
	t.Parallel()
	srv := newCaddyInstance(t).startSites(t, opSite(t))
	b := newOPBrowser(t, srv)
	b.login()

	// The authorization endpoint: no redirect at all when the client or redirect URI is not
	// known (an error page, 400); the spec's error at the registered URI otherwise.
	for _, c := range []struct{ name, client, redirect string }{
		{"unknown client", "nobody", opRedirectURI},
		{"unregistered redirect_uri", opClientID, "https://evil.example/cb"},
		{"redirect_uri with a prefix match only", opClientID, opRedirectURI + "/more"},
		{"redirect_uri with another query", opClientID, opRedirectURI + "?x=1"},
		{"another client's redirect_uri", opClientID, opOtherRedirect},
	} {
		left, status, _, seen := b.follow(b.authorize(c.client, c.redirect))
		if left != "" || len(seen) != 0 || status != http.StatusBadRequest {
			t.Errorf("%s: status %d, sent to %q (%v); want 400 and no redirect", c.name, status, left, seen)
		}
	}
	for _, c := range []struct {
		name  string
		extra []string
		want  string
	}{
		{"public client without PKCE", nil, "invalid_request"},
		{"plain PKCE", []string{"code_challenge", opVerifier, "code_challenge_method", "plain"}, "invalid_request"},
		{"PKCE without a method (plain)", []string{"code_challenge", opVerifier}, "invalid_request"},
		{"no openid scope", []string{"scope", "profile", "code_challenge", s256(opVerifier), "code_challenge_method", "S256"}, "invalid_scope"},
	} {
		left, status, body, _ := b.follow(b.authorize(opSPAID, opSPARedirectURI, c.extra...))
		u, _ := url.Parse(left)
		if !strings.HasPrefix(left, opSPARedirectURI+"?") || u.Query().Get("error") != c.want || u.Query().Get("state") != "st" || u.Query().Get("code") != "" {
			t.Errorf("%s: %d %q %s; want a redirect to %s with error=%s", c.name, status, left, body, opSPARedirectURI, c.want)
		}
	}

	tokenErr := func(name string, status int, want string, id, secret string, f url.Values) {
		t.Helper()
		st, out := opToken(t, srv, id, secret, f)
		if st != status || out["error"] != want {
			t.Errorf("%s: %d %v; want %d %s", name, st, out, status, want)
		}
	}
	// A code used twice: the second is refused, and the first's refresh token dies with it.
	code := b.code(opClientID, opRedirectURI)
	st, first := opToken(t, srv, opClientID, opClientSecret, opCodeForm(code, opRedirectURI))
	if st != 200 || first["refresh_token"] == nil {
		t.Fatalf("exchange: %d %v", st, first)
	}
	tokenErr("replayed code", 400, "invalid_grant", opClientID, opClientSecret, opCodeForm(code, opRedirectURI))
	tokenErr("refresh token of a replayed code", 400, "invalid_grant", opClientID, opClientSecret,
		url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first["refresh_token"].(string)}})
	// A code for one client used by another.
	code = b.code(opClientID, opRedirectURI)
	tokenErr("code of another client", 400, "invalid_grant", opOtherID, opClientSecret, opCodeForm(code, opRedirectURI))
	code = b.code(opClientID, opRedirectURI)
	tokenErr("another redirect_uri at the token endpoint", 400, "invalid_grant", opClientID, opClientSecret, opCodeForm(code, opOtherRedirect))
	code = b.code(opClientID, opRedirectURI)
	tokenErr("wrong client secret", 401, "invalid_client", opClientID, "wrong", opCodeForm(code, opRedirectURI))
	tokenErr("unknown client", 401, "invalid_client", "nobody", "x", opCodeForm(code, opRedirectURI))
	tokenErr("no client authentication", 401, "invalid_client", "", "", opCodeForm(code, opRedirectURI))
	// The refused attempts did not use the code up: the right client still gets its tokens once.
	if st, out := opToken(t, srv, opClientID, opClientSecret, opCodeForm(code, opRedirectURI)); st != 200 {
		t.Errorf("the code after refused attempts: %d %v", st, out)
	}
	tokenErr("made-up code", 400, "invalid_grant", opClientID, opClientSecret, opCodeForm("made-up", opRedirectURI))
	// PKCE at the token endpoint (public client).
	pk := []string{"code_challenge", s256(opVerifier), "code_challenge_method", "S256"}
	code = b.code(opSPAID, opSPARedirectURI, pk...)
	tokenErr("missing code_verifier", 400, "invalid_request", "", "", opCodeForm(code, opSPARedirectURI, "client_id", opSPAID))
	code = b.code(opSPAID, opSPARedirectURI, pk...)
	tokenErr("wrong code_verifier", 400, "invalid_grant", "", "", opCodeForm(code, opSPARedirectURI, "client_id", opSPAID, "code_verifier", opVerifier+"x"))
	tokenErr("unsupported grant type", 400, "unsupported_grant_type", opClientID, opClientSecret, url.Values{"grant_type": {"password"}})
	tokenErr("refresh with a made-up token", 400, "invalid_grant", opClientID, opClientSecret,
		url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x.y.z"}})

	// end_session to an unregistered address: an error, no redirect.
	code = b.code(opClientID, opRedirectURI)
	_, tok := opToken(t, srv, opClientID, opClientSecret, opCodeForm(code, opRedirectURI))
	q := url.Values{"id_token_hint": {fmt.Sprint(tok["id_token"])}, "post_logout_redirect_uri": {"https://evil.example/"}}
	left, status, _, seen := b.follow(srv.URL + "/auth/end_session?" + q.Encode())
	if left != "" || len(seen) != 0 || status != http.StatusBadRequest {
		t.Errorf("end_session to an unregistered address: %d %q %v", status, left, seen)
	}

	// An expired code: 60 s at most.
	code = b.code(opClientID, opRedirectURI)
	time.Sleep(61 * time.Second)
	tokenErr("expired code", 400, "invalid_grant", opClientID, opClientSecret, opCodeForm(code, opRedirectURI))
}
