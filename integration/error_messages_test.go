package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestErrorMessages: the messages a user meets most, as `caddy adapt` and `caddy validate`
// print them for a Caddyfile given as --config Caddyfile, in whole: what an option takes with an
// example, the nearest valid option, the line of the directive that lacks a setting, and the
// variable a secret placeholder names.
func TestErrorMessages(t *testing.T) {
	t.Parallel()
	const validatePrefix = "loading http app module: provision http: server srv0: setting up route handlers: route 0: loading handler modules: position 0: "
	tests := []struct {
		name      string
		sub       string // adapt or validate
		caddyfile string
		env       []string
		want      string
	}{
		{"access_ttl of two words", "adapt",
			"http://:8080 {\n\tjwt_issuer /api/token/* {\n\t\taccess_ttl 5 minutes\n\t}\n}\n", nil,
			"parsing caddyfile tokens for 'jwt_issuer': access_ttl takes <duration>, e.g. access_ttl 5m; got 2 values, at Caddyfile:3"},
		{"secret without value", "adapt",
			"http://:8080 {\n\tjwt_auth {\n\t\tsecret\n\t}\n\trespond ok\n}\n", nil,
			"parsing caddyfile tokens for 'jwt_auth': secret takes <secret>, e.g. secret {env.JWT_SECRET}; got no value, at Caddyfile:3"},
		{"jwt_issuer option misspelt", "adapt",
			"http://:8080 {\n\tjwt_issuer /api/token/* {\n\t\tuser alice " + aliceHash + "\n\t\trefresh_tll 1h\n\t}\n}\n", nil,
			"parsing caddyfile tokens for 'jwt_issuer': unrecognized jwt_issuer option 'refresh_tll'; did you mean refresh_ttl?, at Caddyfile:4"},
		{"jwt_auth option misspelt", "adapt",
			"http://:8080 {\n\tjwt_auth {\n\t\tjwks_uri https://idp.example/jwks.json\n\t}\n\trespond ok\n}\n", nil,
			"parsing caddyfile tokens for 'jwt_auth': unrecognized jwt_auth option 'jwks_uri'; did you mean jwks_url?, at Caddyfile:3"},
		{"jwt_issuer without users", "adapt",
			"http://:8080 {\n\trespond /x ok\n\tjwt_issuer /api/token/* {\n\t\taccess_ttl 5m\n\t\trefresh_ttl 1h\n\t}\n}\n", nil,
			"parsing caddyfile tokens for 'jwt_issuer': jwt_issuer needs users: set users_file, user or credentials_url, at Caddyfile:3"},
		{"empty secret variable", "validate",
			"http://:8080 {\n\tjwt_auth {\n\t\tsecret {env.IT_EMPTY_SECRET}\n\t}\n\trespond ok\n}\n", []string{"IT_EMPTY_SECRET="},
			validatePrefix + "loading module 'jwt_auth': provision http.handlers.jwt_auth: Caddyfile:2: secret {env.IT_EMPTY_SECRET}: the environment variable IT_EMPTY_SECRET is empty; give it the value"},
		{"unset signing secret variable", "validate",
			"http://:8080 {\n\tjwt_issuer /api/token/* {\n\t\tuser alice " + aliceHash + "\n\t\tsigning_key secret {env.IT_UNSET_SIGNING}\n\t}\n}\n", nil,
			validatePrefix + "loading module 'jwt_issuer': provision http.handlers.jwt_issuer: Caddyfile:2: signing_key secret {env.IT_UNSET_SIGNING}: the environment variable IT_UNSET_SIGNING is not set; " +
				"set it in Caddy's environment (e.g. its systemd unit), or use {file./path}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := caddyErrorMessage(t, tt.sub, tt.caddyfile, tt.env...); got != tt.want {
				t.Errorf("caddy %s said\n%s\nwant\n%s", tt.sub, got, tt.want)
			}
		})
	}
}

// TestZeroKeyWarningAtDirective: a jwt_auth without key settings in a site without a jwt_issuer
// is warned about when the configuration starts, at the jwt_auth's file:line.
func TestZeroKeyWarningAtDirective(t *testing.T) {
	t.Parallel()
	inst := newCaddyInstance(t)
	srv := inst.start(t, "\tjwt_auth\n\trespond ok")
	// The instance's global block is 7 lines, a blank line and the site's address follow: the
	// site's first line is line 10.
	want := filepath.Join(inst.dir, "Caddyfile") + ":10: jwt_auth has no key settings and no jwt_issuer is loaded in its site; " +
		"tokens are refused (no_keys_loaded) until one is: add a jwt_issuer to the site, name one with issuer_name, or set secret, public_key, jwks_file or jwks_url"
	if !eventually(5*time.Second, func() bool { return slices.Contains(logMessages(t, srv.log, "warn"), want) }) {
		t.Errorf("no warning %q; warnings: %q", want, logMessages(t, srv.log, "warn"))
	}
}

// caddyErrorMessage runs `bin/caddy <sub> --config Caddyfile --adapter caddyfile` in a directory
// of its own, as a user would in the Caddyfile's directory, with env added to the environment;
// the command must fail, and the message of its last error log line is returned.
func caddyErrorMessage(t *testing.T, sub, caddyfile string, env ...string) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "Caddyfile"), caddyfile)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, caddyBin, sub, "--config", "Caddyfile", "--adapter", "caddyfile")
	cmd.Dir = dir
	cmd.Env = caddyEnv(dir, env)
	out, err := cmd.CombinedOutput()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || ctx.Err() != nil {
		t.Fatalf("caddy %s: %v, want it to fail; output:\n%s", sub, err, out)
	}
	log := filepath.Join(dir, "out.log")
	writeFile(t, log, string(out))
	msgs := logMessages(t, log, "error")
	if len(msgs) == 0 {
		t.Fatalf("caddy %s logged no error; output:\n%s", sub, out)
	}
	return msgs[len(msgs)-1]
}

// logMessages returns the messages of the JSON log lines of level in the file at path.
func logMessages(t *testing.T, path, level string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var msgs []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var entry struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
		}
		if line := sc.Text(); strings.HasPrefix(line, "{") && json.Unmarshal([]byte(line), &entry) == nil && entry.Level == level {
			msgs = append(msgs, entry.Msg)
		}
	}
	return msgs
}
