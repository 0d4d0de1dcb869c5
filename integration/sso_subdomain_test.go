package integration

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ssoAccessTTL is the shared issuer's access_ttl in the subdomain tests: short, so that the
// browser waits past it and sees site B renew the session.
const ssoAccessTTL = 3 * time.Second

// ssoSites is two https sites, a.home.test and b.home.test, on one port with a self-signed
// certificate, sharing one login: site A serves the issuer (cookie_domain home.test, its login
// page the one for both), site B's jwt_auth trusts it by name and sends browsers there.
type ssoSites struct {
	A, B   string // https://a.home.test:<port>, https://b.home.test:<port>
	client *http.Client
	srv    *caddyServer
}

func startSSOSites(t *testing.T) *ssoSites {
	t.Helper()
	c := newCaddyInstance(t)
	certFile, keyFile, pool := homeTestCert(t, c.dir)
	s := &ssoSites{
		A:      fmt.Sprintf("https://a.home.test:%d", c.port),
		B:      fmt.Sprintf("https://b.home.test:%d", c.port),
		client: homeTestClient(pool),
	}
	sites := fmt.Sprintf(`https://a.home.test:PORT {
	tls %[1]s %[2]s
	jwt_issuer /api/token/* {
		name sso
		user alice %[3]s
		access_ttl %[4]s
		rotate_refresh
		session {
			cookie_domain home.test
			login_origin  https://a.home.test:PORT
			origin        https://*.home.test:PORT
		}
	}
	jwt_auth /private/* {
		session /api/token
	}
	respond /private/* "a private {http.auth.user.id}"
	respond / "a home"
}

https://b.home.test:PORT {
	tls %[1]s %[2]s
	jwt_auth /private/* {
		session     /api/token
		issuer_name sso
	}
	respond /private/* "b private {http.auth.user.id}"
	header /logout-form Content-Type "text/html; charset=utf-8"
	respond /logout-form <<HTML
		<!DOCTYPE html><title>Site B</title>
		<form method="post" action="https://a.home.test:PORT/api/token/logout">
		<input type="hidden" name="next" value="https://b.home.test:PORT/">
		<button id="logout" type="submit">Log out</button></form>
		HTML 200
	respond / "b home"
}
`, certFile, keyFile, aliceHash, ssoAccessTTL)
	s.srv = c.startSites(t, sites)
	return s
}

// homeTestCert writes a self-signed certificate for home.test and *.home.test into dir and
// returns its files and a pool that trusts it.
func homeTestCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "home.test"},
		DNSNames:     []string{"home.test", "*.home.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "home.test.crt"), filepath.Join(dir, "home.test.key")
	writeFile(t, certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeFile(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})))
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// homeTestClient is an HTTP client that reaches every *.home.test name on 127.0.0.1 (the
// port of the URL kept) and trusts pool; it follows no redirect.
func homeTestClient(pool *x509.CertPool) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Timeout: 15 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool},
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				host, port, err := net.SplitHostPort(addr)
				if err != nil {
					return nil, err
				}
				if host != "home.test" && !strings.HasSuffix(host, ".home.test") {
					return nil, fmt.Errorf("the test client dials *.home.test only, not %s", host)
				}
				return dialer.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
			},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// send makes a request with the client of the sites; headers are "Name: value".
func (s *ssoSites) send(t *testing.T, method, u, body string, headers ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ": ")
		req.Header.Add(name, value)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, u, err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
}

// cookieHeader is the Cookie header of the Set-Cookie values of r (their name=value parts).
func cookieHeader(r response) string {
	var parts []string
	for _, sc := range r.Header.Values("Set-Cookie") {
		nv, _, _ := strings.Cut(sc, ";")
		if !strings.HasSuffix(nv, "=") {
			parts = append(parts, nv)
		}
	}
	return "Cookie: " + strings.Join(parts, "; ")
}

// TestSubdomainSessions checks the shared login over HTTP: the login redirect of site B names
// site A's login page with B's absolute URL, the cookies of a login on A carry Domain=home.test
// and open B's pages, state-changing requests from a sibling's page are allowed and from another
// site's refused, and every return address outside the domain becomes the login site's "/".
func TestSubdomainSessions(t *testing.T) {
	t.Parallel()
	s := startSSOSites(t)

	r := s.send(t, "GET", s.B+"/private/page?x=1", "", "Accept: text/html")
	want := s.A + "/api/token/login?next=" + url.QueryEscape(s.B+"/private/page?x=1")
	if r.Status != http.StatusFound || r.Header.Get("Location") != want {
		t.Fatalf("site B's login redirect: %d to %q, want 302 to %q", r.Status, r.Header.Get("Location"), want)
	}

	login := func(next, origin string) response {
		t.Helper()
		return s.send(t, "POST", s.A+"/api/token/login", "username=alice&password=alice-pw&next="+url.QueryEscape(next),
			"Content-Type: application/x-www-form-urlencoded", "Origin: "+origin)
	}
	r = login(s.B+"/private/", s.A)
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != s.B+"/private/" {
		t.Fatalf("login with next on site B: %d to %q\n%s", r.Status, r.Header.Get("Location"), r.Body)
	}
	for _, sc := range r.Header.Values("Set-Cookie") {
		if !strings.Contains(sc, "; Domain=home.test;") || !strings.Contains(sc, "HttpOnly; Secure; SameSite=") {
			t.Errorf("session cookie %q is not for Domain=home.test, HttpOnly, Secure and SameSite", sc)
		}
	}
	cookies := cookieHeader(r)
	expect(t, "site B with the cookies of site A's login", s.send(t, "GET", s.B+"/private/", "", cookies), http.StatusOK, "b private alice")
	expect(t, "site A with them", s.send(t, "GET", s.A+"/private/", "", cookies), http.StatusOK, "a private alice")

	// CSRF: a sibling's page may post (the origin pattern), another site's may not.
	expect(t, "a POST from site B's page", s.send(t, "POST", s.A+"/private/x", "", cookies, "Origin: "+s.B), http.StatusOK, "a private alice")
	for _, origin := range []string{"https://evil.example", "https://b.home.test.attacker.example:" + portOf(t, s.A), "http://b.home.test:" + portOf(t, s.A), "https://b.home.test:1"} {
		r := s.send(t, "POST", s.A+"/private/x", "", cookies, "Origin: "+origin)
		if r.Status != http.StatusForbidden || !strings.Contains(r.Body, "cross_site_request") {
			t.Errorf("a POST from %s: %d %s, want 403 cross_site_request", origin, r.Status, r.Body)
		}
	}
	// Logging in from another site's form is refused too (login CSRF).
	if r := login("/", "https://evil.example"); r.Status != http.StatusForbidden {
		t.Errorf("a login posted from another site: %d, want 403", r.Status)
	}

	// Return addresses outside the configuration come back to the login site's "/".
	for _, next := range []string{
		"https://evil.example/",
		"https://b.home.test.attacker.example/",
		"https://attacker.example/.home.test",
		"https://b.home.test@attacker.example/",
		"http://b.home.test:" + portOf(t, s.A) + "/",
		"//b.home.test/",
		"https://b.home.test:" + portOf(t, s.A) + "/api/token/login",
	} {
		r := login(next, s.A)
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/" {
			t.Errorf("login with next %q: %d to %q, want 303 to /", next, r.Status, r.Header.Get("Location"))
		}
		page := s.send(t, "GET", s.A+"/api/token/login?next="+url.QueryEscape(next), "")
		if !strings.Contains(page.Body, `name="next" value="/"`) {
			t.Errorf("login page with next %q keeps another next:\n%s", next, page.Body)
		}
	}

	// Logging out from site B's form ends the session for both sites and returns to B.
	r = s.send(t, "POST", s.A+"/api/token/logout", "next="+url.QueryEscape(s.B+"/"), cookies,
		"Content-Type: application/x-www-form-urlencoded", "Origin: "+s.B)
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != s.B+"/" {
		t.Fatalf("logout from site B: %d to %q\n%s", r.Status, r.Header.Get("Location"), r.Body)
	}
	// The refresh token is revoked: once the access token expires, neither site lets it in.
	time.Sleep(ssoAccessTTL + 1100*time.Millisecond)
	for _, site := range []string{s.A, s.B} {
		if r := s.send(t, "GET", site+"/private/", "", cookies); r.Status != http.StatusUnauthorized {
			t.Errorf("%s/private/ with the logged-out session: %d %s, want 401", site, r.Status, r.Body)
		}
	}
}

func portOf(t *testing.T, u string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return p.Port()
}

// TestSubdomainCookieDomainMustCoverSite: an issuer whose cookie_domain does not cover its
// site's host stops Caddy from starting, at the issuer's line (the sites are known once the
// http app is provisioned: caddy run, not validate, finds it).
func TestSubdomainCookieDomainMustCoverSite(t *testing.T) {
	t.Parallel()
	c := newCaddyInstance(t)
	caddyfile := c.global() + `
https://shop.other.test:` + strconv.Itoa(c.port) + ` {
	jwt_issuer /api/token/* {
		user alice ` + aliceHash + `
		session {
			cookie_domain home.test
		}
	}
}
`
	line := strings.Count(caddyfile[:strings.Index(caddyfile, "jwt_issuer")], "\n") + 1
	out, code := caddyCommand(t, "run", caddyfile)
	want := fmt.Sprintf("Caddyfile:%d: session cookie_domain home.test does not cover the site's host shop.other.test", line)
	if code == 0 || !strings.Contains(out, want) {
		t.Fatalf("caddy run: exit %d, want an error containing %q\n%s", code, want, out)
	}
}

// TestBrowserSubdomains drives headless Chromium through the shared login
// (integration/browser/subdomains.mjs): site B sends it to site A's login page and gets it
// back signed in, site A needs no second login, site B renews the expired access cookie, a
// logout from site B's page ends both, and a next outside the domain stays on site A.
func TestBrowserSubdomains(t *testing.T) {
	t.Parallel()
	node := browserTools(t)
	s := startSSOSites(t)
	artifacts := browserArtifacts(t, "subdomains")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "subdomains.mjs", s.A, s.B, artifacts)
	cmd.Dir = browserDir
	cmd.Env = append(os.Environ(), "GATEHOUSE_USER=alice", "GATEHOUSE_PASSWORD=alice-pw",
		"GATEHOUSE_ACCESS_TTL_MS="+strconv.FormatInt(ssoAccessTTL.Milliseconds(), 10), "GATEHOUSE_CHROMIUM="+chromiumPath())
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node subdomains.mjs: %v after %s\n%s\nscreenshots: %s", err, time.Since(start).Round(time.Millisecond), out, artifacts)
	}
	t.Logf("node subdomains.mjs (%s):\n%sscreenshots: %s", time.Since(start).Round(time.Millisecond), out, artifacts)
}

// browserArtifacts is the screenshot directory of a browser test: $GATEHOUSE_ARTIFACTS/<name>,
// default bin/artifacts/<name>, absolute (node runs in integration/browser).
func browserArtifacts(t *testing.T, name string) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "bin", "artifacts", name)
	if env := os.Getenv("GATEHOUSE_ARTIFACTS"); env != "" {
		if dir, err = filepath.Abs(filepath.Join(env, name)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
