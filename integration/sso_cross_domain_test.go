package integration

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// The two apps' clients at the cross-domain provider.
const (
	xdAppID      = "app"
	xdAppSecret  = "app-client-secret-0123456789"
	xdWikiID     = "wiki"
	xdWikiSecret = "wiki-client-secret-0123456789"
)

// crossDomainSites is one Caddy serving three https sites on one port, on three domains: a
// Gatehouse OpenID provider at auth.one.test/auth, and two apps, app.two.test and
// wiki.three.test, each a relying party of it (jwt_auth session oidc) with its own client.
// No cookie can be shared between them: the single sign-on is the provider's session.
type crossDomainSites struct {
	Auth, App, Wiki string // https://<name>:<port>
	srv             *caddyServer
}

func startCrossDomainSites(t *testing.T) *crossDomainSites {
	t.Helper()
	c := newCaddyInstance(t)
	names := []string{"auth.one.test", "app.two.test", "wiki.three.test"}
	certFile, keyFile := testCertFor(t, c.dir, names...)
	// The relying parties fetch discovery and exchange codes at https://auth.one.test:<port>:
	// the test's CONNECT proxy takes them there (Go's resolver knows no *.test), and the test
	// certificate is the process's only root.
	proxy := startTestProxy(t)
	c.env = append(c.env, "SSL_CERT_FILE="+certFile, "SSL_CERT_DIR="+c.dir,
		"HTTPS_PROXY="+proxy, "https_proxy="+proxy, "NO_PROXY=", "no_proxy=",
		"APP_SECRET="+xdAppSecret, "WIKI_SECRET="+xdWikiSecret)
	appHash, err := bcrypt.GenerateFromPassword([]byte(xdAppSecret), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	wikiHash, err := bcrypt.GenerateFromPassword([]byte(xdWikiSecret), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	s := &crossDomainSites{
		Auth: fmt.Sprintf("https://auth.one.test:%d", c.port),
		App:  fmt.Sprintf("https://app.two.test:%d", c.port),
		Wiki: fmt.Sprintf("https://wiki.three.test:%d", c.port),
	}
	sites := fmt.Sprintf(`https://auth.one.test:PORT {
	tls %[1]s %[2]s
	jwt_issuer /auth/* {
		user alice %[3]s {
			claim email alice@example.test
		}
		issuer https://auth.one.test:PORT/auth
		rotate_refresh
		session
		provider {
			client %[4]s {
				secret_hash %[5]s
				redirect_uri https://app.two.test:PORT/oidc/callback
			}
			client %[6]s {
				secret_hash %[7]s
				redirect_uri https://wiki.three.test:PORT/oidc/callback
			}
		}
	}
	respond "auth home"
}

https://app.two.test:PORT {
	tls %[1]s %[2]s
	jwt_auth /private/* {
		session oidc https://auth.one.test:PORT/auth {
			client_id     %[4]s
			client_secret {env.APP_SECRET}
			claim         email
		}
		forward_claim email X-Email
	}
	respond /private/* "app private {http.auth.user.id} {http.request.header.X-Email}"
	header /links Content-Type "text/html; charset=utf-8"
	respond /links <<HTML
		<!DOCTYPE html><title>App</title><a id="wiki" href="https://wiki.three.test:PORT/private/notes">Wiki</a>
		HTML 200
	respond "app home"
}

https://wiki.three.test:PORT {
	tls %[1]s %[2]s
	jwt_auth /private/* {
		session oidc https://auth.one.test:PORT/auth {
			client_id     %[6]s
			client_secret {env.WIKI_SECRET}
			claim         email
		}
		forward_claim email X-Email
	}
	respond /private/* "wiki private {http.auth.user.id} {http.request.header.X-Email}"
	respond "wiki home"
}
`, certFile, keyFile, aliceHash, xdAppID, appHash, xdWikiID, wikiHash)
	s.srv = c.startSites(t, sites)
	return s
}

// testCertFor writes a self-signed certificate for names into dir and returns its files.
func testCertFor(t *testing.T, dir string, names ...string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
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
	certFile, keyFile = filepath.Join(dir, "cross-domain.crt"), filepath.Join(dir, "cross-domain.key")
	writeFile(t, certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeFile(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})))
	return certFile, keyFile
}

// startTestProxy runs an HTTP CONNECT proxy on loopback that tunnels to <name>.test:<port> on
// 127.0.0.1 and refuses every other destination; it returns its URL.
func startTestProxy(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				tunnelTestHost(conn)
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

func tunnelTestHost(conn net.Conn) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	req, err := http.ReadRequest(bufio.NewReader(conn))
	if err != nil {
		return
	}
	host, port, err := net.SplitHostPort(req.Host)
	if req.Method != http.MethodConnect || err != nil || !strings.HasSuffix(host, ".test") {
		_, _ = io.WriteString(conn, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
		return
	}
	upstream, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", port), 5*time.Second)
	if err != nil {
		_, _ = io.WriteString(conn, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
		return
	}
	defer upstream.Close()
	_ = upstream.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(conn, "HTTP/1.1 200 Connection Established\r\n\r\n"); err != nil {
		return
	}
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(upstream, conn); done <- struct{}{} }()
	go func() { _, _ = io.Copy(conn, upstream); done <- struct{}{} }()
	<-done
}

// serverErrorLine matches a logged response with a 5xx status.
var serverErrorLine = regexp.MustCompile(`"status":\s*5\d\d`)

// TestBrowserCrossDomainSSO drives headless Chromium (integration/browser/cross_domain.mjs)
// through single sign-on across three domains: app.two.test sends the browser to the
// Gatehouse provider on auth.one.test, its login page brings it back to the page asked for
// with alice's identity, and then a link on the app to wiki.three.test signs it in through
// the provider's session without a second login (the Strict session cookie's bounce page on
// the way); both apps then serve pages from their own sessions. Every hop's status and address
// is asserted; no response is a 5xx and the server logs no error.
func TestBrowserCrossDomainSSO(t *testing.T) {
	t.Parallel()
	node := browserTools(t)
	s := startCrossDomainSites(t)
	artifacts := browserArtifacts(t, "cross-domain")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "cross_domain.mjs", s.Auth+"/auth", s.App, s.Wiki, artifacts)
	cmd.Dir = browserDir
	cmd.Env = append(os.Environ(), "GATEHOUSE_USER=alice", "GATEHOUSE_PASSWORD=alice-pw",
		"GATEHOUSE_CHROMIUM="+chromiumPath(), "GATEHOUSE_DEBUG="+os.Getenv("GATEHOUSE_DEBUG"))
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node cross_domain.mjs: %v after %s\n%s\nscreenshots: %s", err, time.Since(start).Round(time.Millisecond), out, artifacts)
	}
	t.Logf("node cross_domain.mjs (%s):\n%sscreenshots: %s", time.Since(start).Round(time.Millisecond), out, artifacts)
	logged, err := os.ReadFile(s.srv.log)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(logged), "\n") {
		if serverErrorLine.MatchString(line) || strings.Contains(line, `"level":"error"`) || strings.Contains(line, "panic") {
			t.Errorf("the server logged an error: %s", line)
		}
	}
}
