package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBrowserSecondFactor drives a real headless Chromium (integration/browser/
// second_factor.mjs) through the second factor of secondFactorSite: the password alone sends
// alice to enrol an authenticator app, the key read from the page gives the codes, the
// recovery codes are shown once, and after signing out she signs in with password + code, a
// code used before is refused and a recovery code works once. The screenshots of the
// enrolment and code pages go to $GATEHOUSE_DOC_IMAGES when set (docs/images, the
// documentation's pictures), else under bin/artifacts, so a test run leaves the checkout as it
// was.
func TestBrowserSecondFactor(t *testing.T) {
	t.Parallel()
	runBrowserScript(t, "second_factor.mjs", "alice")
}

// TestBrowserPasskey drives a real headless Chromium with a virtual authenticator (integration/
// browser/passkey.mjs) through the passkeys of secondFactorSite, on http://localhost: carol
// registers a passkey from her session, signs out and signs in with the passkey alone; an
// authenticator holding another credential for her, and one holding a stranger's, are refused.
func TestBrowserPasskey(t *testing.T) {
	t.Parallel()
	runBrowserScript(t, "passkey.mjs", "carol")
}

// runBrowserScript starts secondFactorSite and runs a driver script of integration/browser
// against it as user (password alice-pw), images into $GATEHOUSE_DOC_IMAGES or the artifacts.
func runBrowserScript(t *testing.T, script, user string) {
	t.Helper()
	node := browserTools(t)
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	artifacts := filepath.Join(root, "bin", "artifacts", "browser")
	if dir := os.Getenv("GATEHOUSE_ARTIFACTS"); dir != "" {
		if artifacts, err = filepath.Abs(filepath.Join(dir, "browser")); err != nil {
			t.Fatal(err)
		}
	}
	images := filepath.Join(artifacts, "images")
	if dir := os.Getenv("GATEHOUSE_DOC_IMAGES"); dir != "" {
		if images, err = filepath.Abs(dir); err != nil {
			t.Fatal(err)
		}
	}
	srv := startCaddy(t, secondFactorSite)
	// localhost, not 127.0.0.1: the name a passkey's relying party id can be.
	site := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script, site, images, artifacts)
	cmd.Dir = browserDir
	cmd.Env = append(os.Environ(), "GATEHOUSE_USER="+user, "GATEHOUSE_PASSWORD=alice-pw", "GATEHOUSE_CHROMIUM="+chromiumPath())
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node %s: %v after %s\n%s", script, err, time.Since(start).Round(time.Millisecond), out)
	}
	t.Logf("node %s (%s):\n%s", script, time.Since(start).Round(time.Millisecond), out)
	log := srv.logText(t)
	if strings.Contains(log, `"status":5`) || strings.Contains(log, "panic") {
		t.Errorf("a 5xx or a panic in the log:\n%s", log)
	}
}
