// Package integration drives a real Caddy with Gatehouse, built by ../xcaddy.sh, over loopback
// HTTP: every test writes a Caddyfile, starts bin/caddy on free 127.0.0.1 ports and checks what
// clients and upstreams see.
package integration

import (
	"bytes"
	"context"
	"errors"
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

// caddyBin is the absolute path of the Caddy binary under test, set by TestMain.
var caddyBin string

// TestMain builds bin/caddy from the working tree once. A failed build fails the whole package:
// these tests are never skipped.
func TestMain(m *testing.M) {
	root, err := filepath.Abs("..")
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		os.Exit(1)
	}
	var out bytes.Buffer
	build := exec.Command(filepath.Join(root, "xcaddy.sh"), "build")
	build.Dir = root
	build.Stdout, build.Stderr = &out, &out
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "integration: ../xcaddy.sh build failed: %v\n%s", err, out.Bytes())
		os.Exit(1)
	}
	caddyBin = filepath.Join(root, "bin", "caddy")
	if _, err := os.Stat(caddyBin); err != nil {
		fmt.Fprintf(os.Stderr, "integration: %v\n", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// caddyServer is one running bin/caddy.
type caddyServer struct {
	// URL is the site's base URL, http://127.0.0.1:<port>, without a trailing slash.
	URL string
	// Admin is the admin endpoint's base URL.
	Admin string

	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has exited
	log    string        // path of the captured stdout and stderr
}

// startCaddy runs bin/caddy with a Caddyfile of one site, http://:<free port>, whose body is
// site. The global block gives the instance its own admin port and storage directory and turns
// automatic HTTPS off. env ("NAME=value") is added to the process environment. The process is
// stopped when the test ends; its output is printed if the test failed.
func startCaddy(t *testing.T, site string, env ...string) *caddyServer {
	t.Helper()
	return newCaddyInstance(t, env...).start(t, site)
}

// caddyInstance is a Caddy configuration that can be started, stopped and started again on the
// same ports and storage directory, as a restarted server would be, and reloaded with another
// site body.
type caddyInstance struct {
	dir             string
	port, adminPort int
	env             []string
}

// newCaddyInstance makes the directory and picks the ports of an instance; env ("NAME=value")
// is added to the process environment of every start.
func newCaddyInstance(t *testing.T, env ...string) *caddyInstance {
	t.Helper()
	return &caddyInstance{dir: t.TempDir(), port: freePort(t), adminPort: freePort(t), env: env}
}

// caddyfile is the instance's Caddyfile for a site body.
func (c *caddyInstance) caddyfile(site string) string {
	return c.global() + fmt.Sprintf("\nhttp://:%d {\n%s\n}\n", c.port, site)
}

// global is the instance's global options block, with extra options (such as a gatehouse
// block) at its end.
func (c *caddyInstance) global(extra ...string) string {
	return fmt.Sprintf(`{
	admin 127.0.0.1:%d
	storage file_system %s
	auto_https off
	persist_config off
	grace_period 1s
%s}
`, c.adminPort, filepath.Join(c.dir, "storage"), strings.Join(extra, "\n"))
}

// start runs bin/caddy with site; the process is stopped when the test ends, and its output
// printed if the test failed. Each start logs to its own file.
func (c *caddyInstance) start(t *testing.T, site string) *caddyServer {
	t.Helper()
	return c.startCaddyfile(t, c.caddyfile(site))
}

// startSites runs bin/caddy with whole site blocks rather than one site's body, as a Caddy
// serving several sites runs; PORT in sites stands for the instance's port (the server's URL).
func (c *caddyInstance) startSites(t *testing.T, sites string, globalOptions ...string) *caddyServer {
	t.Helper()
	return c.startCaddyfile(t, c.global(globalOptions...)+"\n"+strings.ReplaceAll(sites, "PORT", strconv.Itoa(c.port)))
}

// startCaddyfile runs bin/caddy with a whole Caddyfile.
func (c *caddyInstance) startCaddyfile(t *testing.T, caddyfile string) *caddyServer {
	t.Helper()
	config := filepath.Join(c.dir, "Caddyfile")
	writeFile(t, config, caddyfile)
	logFile, err := os.CreateTemp(c.dir, "caddy-*.log")
	if err != nil {
		t.Fatal(err)
	}
	s := &caddyServer{
		URL:    fmt.Sprintf("http://127.0.0.1:%d", c.port),
		Admin:  fmt.Sprintf("http://127.0.0.1:%d", c.adminPort),
		exited: make(chan struct{}),
		log:    logFile.Name(),
	}
	s.cmd = exec.Command(caddyBin, "run", "--config", config, "--adapter", "caddyfile")
	s.cmd.Dir = c.dir
	s.cmd.Env = caddyEnv(c.dir, c.env)
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	if err := s.cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("starting caddy: %v", err)
	}
	go func() {
		_ = s.cmd.Wait()
		logFile.Close()
		close(s.exited)
	}()
	t.Cleanup(func() {
		s.stop(t)
		if t.Failed() {
			s.dumpLog(t, caddyfile)
		}
	})
	if err := s.waitReady(15 * time.Second); err != nil {
		t.Fatalf("caddy did not start: %v", err)
	}
	return s
}

// caddyEnv is the test process's environment with HOME and the XDG directories moved into dir,
// so that Caddy writes nothing outside the test's temporary directory.
func caddyEnv(dir string, extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "CADDY_ADMIN":
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "HOME="+dir, "XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
		"XDG_DATA_HOME="+filepath.Join(dir, "data"))
	return append(env, extra...)
}

// waitReady waits until the admin endpoint answers GET /config/ (it does so once the config is
// loaded) and the site's port accepts connections, or the process exits, or limit passes.
func (s *caddyServer) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	client := &http.Client{Timeout: time.Second}
	siteAddr := strings.TrimPrefix(s.URL, "http://")
	for {
		select {
		case <-s.exited:
			return errors.New("the process exited")
		default:
		}
		if ready(client, s.Admin+"/config/") {
			if c, err := net.DialTimeout("tcp", siteAddr, time.Second); err == nil {
				c.Close()
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s", limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func ready(client *http.Client, url string) bool {
	resp, err := client.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// running reports whether the process is still alive.
func (s *caddyServer) running() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM and kills the process if it has not exited 5 seconds later.
func (s *caddyServer) stop(t *testing.T) {
	if !s.running() {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		t.Errorf("caddy did not stop within 5s of SIGTERM; killing it")
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

func (s *caddyServer) dumpLog(t *testing.T, caddyfile string) {
	out, err := os.ReadFile(s.log)
	if err != nil {
		t.Logf("reading caddy log: %v", err)
	}
	t.Logf("Caddyfile:\n%s\ncaddy output:\n%s", caddyfile, out)
}

// adaptCaddyfile runs `bin/caddy adapt` on caddyfile, written to a file named Caddyfile, and
// returns the combined output and the exit code.
func adaptCaddyfile(t *testing.T, caddyfile string) (output string, exitCode int) {
	t.Helper()
	return caddyCommand(t, "adapt", caddyfile)
}

// caddyCommand runs `bin/caddy <sub> --config Caddyfile --adapter caddyfile` (sub is adapt or
// validate) with env added to the environment, and returns the combined output and exit code.
func caddyCommand(t *testing.T, sub, caddyfile string, env ...string) (output string, exitCode int) {
	t.Helper()
	dir := t.TempDir()
	config := filepath.Join(dir, "Caddyfile")
	writeFile(t, config, caddyfile)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, caddyBin, sub, "--config", config, "--adapter", "caddyfile")
	cmd.Dir = dir
	cmd.Env = caddyEnv(dir, env)
	out, err := cmd.CombinedOutput()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &exitErr) && ctx.Err() == nil:
		return string(out), exitErr.ExitCode()
	}
	t.Fatalf("running caddy %s: %v\n%s", sub, err, out)
	return "", -1
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// response is what a test request got back.
type response struct {
	Status int
	Header http.Header
	Body   string
}

// httpClient is shared by the tests; it follows no redirect so that tests see what Caddy sent.
var httpClient = &http.Client{
	Timeout: 15 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// do sends a request with the given headers ("Name: value"; a name may repeat) and returns the
// response with its body read.
func do(t *testing.T, method, url string, headers ...string) response {
	t.Helper()
	return sendBody(t, method, url, "", headers...)
}

// sendBody is do with a request body ("" for none).
func sendBody(t *testing.T, method, url, body string, headers ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		name, value, ok := strings.Cut(h, ": ")
		if !ok {
			t.Fatalf("bad test header %q", h)
		}
		if name == "Host" {
			req.Host = value
			continue
		}
		req.Header.Add(name, value)
	}
	return roundTrip(t, req)
}

// roundTrip sends req with httpClient and returns the response with its body read.
func roundTrip(t *testing.T, req *http.Request) response {
	t.Helper()
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", req.Method, req.URL, err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
}

// get is do with GET.
func get(t *testing.T, url string, headers ...string) response {
	t.Helper()
	return do(t, http.MethodGet, url, headers...)
}

// bearer is an Authorization header line for tok.
func bearer(tok string) string { return "Authorization: Bearer " + tok }

// eventually calls f every 100ms until it returns true or limit passes.
func eventually(limit time.Duration, f func() bool) bool {
	deadline := time.Now().Add(limit)
	for {
		if f() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}
