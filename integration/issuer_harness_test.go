package integration

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Password hashes for the issuer tests: bcrypt at cost 4, so that logins are fast (the format
// `caddy hash-password` and `htpasswd -B` make; the users file test uses hashes made by
// bin/caddy itself).
const (
	aliceHash = "$2a$04$jtbYAZjfJVFuB5at.e72.ubgghvlf88CJne.EDJvHG.RiW1tnH4DC" // alice-pw
	bobHash   = "$2a$04$By8wSEr6u4E8tE9POQqOqeqWAZEOFdep1yl7lRzxx9euHMHwdGvnW" // bob-pw
)

// restart stops s and starts the instance again with site, on the same storage.
func (c *caddyInstance) restart(t *testing.T, s *caddyServer, site string) *caddyServer {
	t.Helper()
	s.stop(t)
	return c.start(t, site)
}

// reload loads site into the running s through the admin API, as `caddy reload` does.
func (c *caddyInstance) reload(t *testing.T, s *caddyServer, site string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.Admin+"/load", strings.NewReader(c.caddyfile(site)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/caddyfile")
	// Each load replaces Caddy's admin server, which closes the connection this request came on;
	// kept alive, the next reload could go out on it just as it closes (EOF, and net/http does
	// not resend a POST). So every reload has a connection of its own, as `caddy reload` does.
	req.Close = true
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("reload: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("reload: %d %s", resp.StatusCode, body)
	}
}

// logText is what the server has logged so far.
func (s *caddyServer) logText(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(s.log)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// postJSON posts body (a JSON text) to url.
func postJSON(t *testing.T, url, body string) response {
	t.Helper()
	return post(t, url, "application/json", body)
}

// post sends body with the given content type and returns the response with its body read.
func post(t *testing.T, url, contentType, body string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("POST %s: reading body: %v", url, err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
}

// credentials is a login body.
func credentials(user, password string) string {
	b, _ := json.Marshal(map[string]string{"username": user, "password": password})
	return string(b)
}

// form is a login body as an HTML form sends it.
func form(user, password string) string {
	return url.Values{"username": {user}, "password": {password}}.Encode()
}

// tokenField is a {"<name>":"<tok>"} body.
func tokenField(name, tok string) string {
	b, _ := json.Marshal(map[string]string{name: tok})
	return string(b)
}

// tokens decodes a 200 token answer ({"access", "refresh"}; refresh may be absent).
func tokens(t *testing.T, r response) (access, refresh string) {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("status %d, want 200; body %s", r.Status, r.Body)
	}
	var p struct{ Access, Refresh string }
	if err := json.Unmarshal([]byte(r.Body), &p); err != nil || p.Access == "" {
		t.Fatalf("token answer %q: %v", r.Body, err)
	}
	return p.Access, p.Refresh
}

// expect checks a response's status and, when body is not "", its exact body.
func expect(t *testing.T, what string, r response, status int, body string) {
	t.Helper()
	if r.Status != status || (body != "" && r.Body != body) {
		t.Errorf("%s: %d %s\nwant %d %s", what, r.Status, r.Body, status, body)
	}
}

// hashPassword makes a hash with `bin/caddy hash-password` (algorithm "" for Caddy's default,
// bcrypt).
func hashPassword(t *testing.T, algorithm, password string) string {
	t.Helper()
	args := []string{"hash-password", "--plaintext", password}
	if algorithm != "" {
		args = append(args, "--algorithm", algorithm)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, caddyBin, args...)
	cmd.Env = caddyEnv(t.TempDir(), nil)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("caddy hash-password: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// The issuer's answers, as simplejwt words them.
const (
	bodyBadCredentials = `{"detail":"No active account found with the given credentials"}`
	bodyBlacklisted    = `{"detail":"Token is blacklisted","code":"token_not_valid"}`
	bodyUnavailable    = `{"detail":"Service temporarily unavailable, try again later.","code":"service_unavailable"}`
)
