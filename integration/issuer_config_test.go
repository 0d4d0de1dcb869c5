package integration

import (
	"context"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestIssuerMounts: jwt_issuer answers at the path its matcher names, under handle_path (the
// prefix stripped), and inside route and handle; the same tokens work everywhere, as the
// mounts share the generated key in the storage.
func TestIssuerMounts(t *testing.T) {
	t.Parallel()
	user := "user bob " + bobHash
	srv := startCaddy(t, `
	jwt_issuer /api/token/* {
		`+user+`
	}
	handle_path /auth/* {
		jwt_issuer {
			`+user+`
		}
	}
	route /r/* {
		jwt_issuer /r/token* {
			`+user+`
		}
	}
	handle /h/* {
		jwt_issuer /h/jwt/* {
			`+user+`
		}
	}
	handle /api/* {
		jwt_auth
		respond "hello {http.auth.user.id}"
	}`)
	for _, base := range []string{"/api/token", "/auth", "/r/token", "/h/jwt"} {
		access, refresh := tokens(t, postJSON(t, srv.URL+base+"/", credentials("bob", "bob-pw")))
		expect(t, base+": token at the protected route", get(t, srv.URL+"/api/x", bearer(access)), http.StatusOK, "hello bob")
		expect(t, base+": verify", postJSON(t, srv.URL+base+"/verify", tokenField("token", refresh)), http.StatusOK, "{}")
		r := get(t, srv.URL+base+"/jwks.json")
		requireContains(t, base+": jwks.json", r.Body, `"kty":"EC"`, `"crv":"P-256"`)
		expect(t, base+": unknown endpoint", postJSON(t, srv.URL+base+"/nope/", "{}"), http.StatusNotFound, `{"detail":"Not found."}`)
	}
}

// TestIssuerAdaptRoundTrip: `caddy adapt` turns a jwt_issuer Caddyfile into JSON that
// `caddy validate` loads as it is, and mistakes are reported with their Caddyfile line.
func TestIssuerAdaptRoundTrip(t *testing.T) {
	t.Parallel()
	out, code := adaptCaddyfile(t, `http://:8080 {
	jwt_issuer /api/token/* {
		user alice `+aliceHash+` {
			claim user_id 1
			claim roles admin editor
		}
		signing_key auto EdDSA
		rotate_refresh
		rotate_keys 720h
		login_limit 5 per 1m
	}
	jwt_auth
	respond ok
}
`)
	if code != 0 {
		t.Fatalf("caddy adapt failed with %d:\n%s", code, out)
	}
	requireContains(t, "adapted JSON", out, `"handler":"jwt_issuer"`, `"base_path":"/api/token"`,
		`"claims":{"roles":["admin","editor"],"user_id":1}`, `"signing_key":{"alg":"EdDSA","source":"auto"}`)
	// The JSON alone (first line of the output; warnings may follow) loads.
	dir := t.TempDir()
	config := filepath.Join(dir, "caddy.json")
	writeFile(t, config, strings.SplitN(out, "\n", 2)[0])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, caddyBin, "validate", "--config", config)
	cmd.Dir, cmd.Env = dir, caddyEnv(dir, nil)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("caddy validate of the adapted JSON: %v\n%s", err, b)
	}

	for _, tt := range []struct {
		name, body string
		want       []string
	}{
		{"plaintext password", "user bob hunter2", []string{"Caddyfile:3", "unknown password hash format", "caddy hash-password"}},
		{"both user sources", "user bob " + bobHash + "\n\t\tcredentials_url https://app.example/check", []string{"Caddyfile:4", "credentials_url cannot be combined"}},
		{"rotate_keys with a secret", "user bob " + bobHash + "\n\t\tsigning_key secret 0123456789abcdef0123456789abcdef\n\t\trotate_keys 24h", []string{"Caddyfile:5", "only with signing_key auto"}},
	} {
		out, code := adaptCaddyfile(t, "http://:8080 {\n\tjwt_issuer /api/token/* {\n\t\t"+tt.body+"\n\t}\n}\n")
		if code == 0 {
			t.Errorf("%s: caddy adapt succeeded, want an error", tt.name)
			continue
		}
		requireContains(t, tt.name, out, tt.want...)
		if strings.Contains(out, "hunter2") || strings.Contains(out, "0123456789abcdef") {
			t.Errorf("%s: the output echoes a password or secret:\n%s", tt.name, out)
		}
	}
}
