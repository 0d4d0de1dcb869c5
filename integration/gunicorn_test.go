package integration

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Debian's interpreter and gunicorn, by absolute path: another python3 on PATH (pyenv, a
// virtualenv) has no Django.
const (
	debianPython   = "/usr/bin/python3"
	debianGunicorn = "/usr/bin/gunicorn"
)

// requireDebianDjango fails the test, saying what to install, when Debian's Python or gunicorn
// is missing.
func requireDebianDjango(t *testing.T) {
	t.Helper()
	for _, p := range []string{debianPython, debianGunicorn} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s is missing: install python3-django python3-djangorestframework "+
				"python3-djangorestframework-simplejwt gunicorn (./xcaddy.sh test does)", p)
		}
	}
}

// startGunicorn runs Debian's gunicorn serving app (a WSGI module) from project on a free
// loopback port, in dir with env, and waits until GET probe answers probeStatus. It stops
// gunicorn when the test ends, printing its output if the test failed, and returns the
// address (127.0.0.1:<port>).
func startGunicorn(t *testing.T, project, app, dir string, env []string, probe string, probeStatus int) string {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	logPath := filepath.Join(dir, "gunicorn.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(debianGunicorn, "--bind", addr, "--workers", "2", "--chdir", project,
		"--graceful-timeout", "5", app)
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("starting gunicorn: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Errorf("gunicorn did not stop within 10s of SIGTERM; killing it")
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			out, _ := os.ReadFile(logPath)
			t.Logf("gunicorn output:\n%s", out)
		}
	})

	client := &http.Client{Timeout: time.Second}
	up := eventually(30*time.Second, func() bool {
		select {
		case <-exited:
			return true
		default:
		}
		resp, err := client.Get("http://" + addr + probe)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == probeStatus
	})
	select {
	case <-exited:
		t.Fatal("gunicorn exited")
	default:
	}
	if !up {
		t.Fatal("gunicorn did not answer within 30s")
	}
	return addr
}
