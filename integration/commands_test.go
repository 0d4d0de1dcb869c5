package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/mint"
)

// The `caddy gatehouse` commands, run as an operator runs them: bin/caddy, against a running
// bin/caddy where they touch what it serves.

// gatehouseCmd runs `bin/caddy gatehouse <args>` in dir with stdin and env added, and returns
// its stdout, stderr and exit code.
func gatehouseCmd(t *testing.T, dir, stdin string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, caddyBin, append([]string{"gatehouse"}, args...)...)
	cmd.Dir = dir
	cmd.Env = caddyEnv(dir, env)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return out.String(), errOut.String(), 0
	case errors.As(err, &exitErr) && ctx.Err() == nil:
		return out.String(), errOut.String(), exitErr.ExitCode()
	}
	t.Fatalf("caddy gatehouse %v: %v\n%s%s", args, err, out.String(), errOut.String())
	return "", "", -1
}

// TestCommandKeygen: keys made by `caddy gatehouse keygen` work in a running Caddy: a token
// signed with the private key passes jwt_auth with the JWK Set file, and with the public PEM;
// the private key is jwt_issuer's signing_key file, whose tokens the JWK Set verifies; a
// tampered token is refused. The private key file is 0600 and never printed.
func TestCommandKeygen(t *testing.T) {
	for _, tt := range []struct {
		alg string
		// issuer: jwt_issuer signs with this key file's algorithm (the key type's first: RS256
		// for RSA, so not PS256).
		issuer bool
	}{{"EdDSA", true}, {"ES384", true}, {"RS256", true}, {"PS256", false}} {
		alg := tt.alg
		t.Run(alg, func(t *testing.T) {
			dir := t.TempDir()
			key, pub, jwks := filepath.Join(dir, "signing.pem"), filepath.Join(dir, "public.pem"), filepath.Join(dir, "jwks.json")
			out, errOut, code := gatehouseCmd(t, dir, "", nil, "keygen", "--alg", alg, "--out", key, "--public", pub, "--jwks", jwks)
			if code != 0 || strings.Contains(out+errOut, "PRIVATE KEY") {
				t.Fatalf("keygen: exit %d\n%s%s", code, out, errOut)
			}
			fi, err := os.Stat(key)
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("private key: %v, mode %v; want 0600", err, fi.Mode())
			}
			priv, err := os.ReadFile(key)
			if err != nil {
				t.Fatal(err)
			}
			signer, err := mint.ParsePEM(priv, alg)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(errOut, "kid "+signer.Kid) {
				t.Errorf("keygen does not name the kid %s: %s", signer.Kid, errOut)
			}
			tok, err := mint.Standalone(signer, time.Now(), 5*time.Minute, map[string]json.RawMessage{"sub": json.RawMessage(`"alice"`)})
			if err != nil {
				t.Fatal(err)
			}
			s := startCaddy(t, `
	jwt_issuer /api/token/* {
		user alice `+aliceHash+`
		signing_key file `+key+`
	}
	route /jwks/* {
		jwt_auth {
			jwks_file `+jwks+`
		}
		respond "jwks {http.auth.user.id}"
	}
	route /pem/* {
		jwt_auth {
			public_key `+pub+`
		}
		respond "pem {http.auth.user.id}"
	}`)
			expect(t, "signed with the private key, jwks_file", get(t, s.URL+"/jwks/", bearer(tok.Raw)), 200, "jwks alice")
			expect(t, "signed with the private key, public_key", get(t, s.URL+"/pem/", bearer(tok.Raw)), 200, "pem alice")
			tampered := tok.Raw[:len(tok.Raw)-4] + "AAAA"
			if tampered == tok.Raw {
				tampered = tok.Raw[:len(tok.Raw)-4] + "BBBB"
			}
			expect(t, "tampered", get(t, s.URL+"/jwks/", bearer(tampered)), 401, "")
			if !tt.issuer {
				if !strings.Contains(errOut, "note: jwt_issuer's signing_key file signs RS256") {
					t.Errorf("keygen --alg %s does not say that jwt_issuer signs RS256 with it: %s", alg, errOut)
				}
				return
			}
			access, _ := tokens(t, postJSON(t, s.URL+"/api/token/", credentials("alice", "alice-pw")))
			expect(t, "jwt_issuer's token, signing_key file", get(t, s.URL+"/jwks/", bearer(access)), 200, "jwks alice")
		})
	}
}

// TestCommandInspect: inspect shows a token's claims and expiry and verifies it with the
// secret, and never shows the secret, the signature or a password-like claim, whether the token
// comes on stdin, from --token-env or (discouraged, with a warning) as an argument. It also
// verifies a running jwt_issuer's token against its jwks.json URL.
func TestCommandInspect(t *testing.T) {
	dir := t.TempDir()
	secret := "inspect-" + strings.Repeat("0123456789", 5)
	env := []string{"JWT_SECRET=" + secret, "OTHER_SECRET=" + strings.Repeat("x", 40)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	mintCmd := exec.CommandContext(ctx, caddyBin, "jwt-token", "--secret-env", "JWT_SECRET", "--claim", "sub=alice",
		"--claim", "password=hunter2-pw", "--ttl", "4m")
	mintCmd.Env = caddyEnv(dir, env)
	raw, err := mintCmd.Output()
	if err != nil {
		t.Fatalf("caddy jwt-token: %v", err)
	}
	tok := strings.TrimSpace(string(raw))
	sig := tok[strings.LastIndexByte(tok, '.')+1:]
	noSecrets := func(what, out string) {
		t.Helper()
		for _, s := range []string{secret, sig, "hunter2-pw", strings.Repeat("x", 40)} {
			if strings.Contains(out, s) {
				t.Errorf("%s shows %q:\n%s", what, s, out)
			}
		}
	}

	out, errOut, code := gatehouseCmd(t, dir, tok+"\n", env, "inspect", "--secret-env", "JWT_SECRET")
	if code != 0 {
		t.Fatalf("inspect: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{`"sub": "alice"`, `"password": "[hidden]"`, `"token_type": "access"`, "(valid for 3 minutes",
		"signature:  HS256, 32 bytes (not shown)", "verified:   yes, with --secret-env JWT_SECRET"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, out)
		}
	}
	noSecrets("inspect on stdin", out+errOut)

	out, errOut, code = gatehouseCmd(t, dir, "", append(env, "TOKEN="+tok), "inspect", "--token-env", "TOKEN", "--secret-env", "OTHER_SECRET")
	if code != 1 || !strings.Contains(out, "verified:   no: token signature does not verify") || !strings.Contains(errOut, "the token does not verify") {
		t.Errorf("another secret: exit %d\n%s%s", code, out, errOut)
	}
	noSecrets("inspect with another secret", out+errOut)

	out, errOut, code = gatehouseCmd(t, dir, "", env, "inspect", tok)
	if code != 0 || !strings.Contains(errOut, "warning: a token on the command line") {
		t.Errorf("token as an argument: exit %d\n%s%s", code, out, errOut)
	}
	noSecrets("inspect with the token as an argument", out+errOut)

	s := startCaddy(t, `
	jwt_issuer /api/token/* {
		user alice `+aliceHash+`
		signing_key auto EdDSA
	}`)
	access, _ := tokens(t, postJSON(t, s.URL+"/api/token/", credentials("alice", "alice-pw")))
	out, errOut, code = gatehouseCmd(t, dir, access, nil, "inspect", "--jwks-url", s.URL+"/api/token/jwks.json")
	if code != 0 || !strings.Contains(out, `"alg": "EdDSA"`) || !strings.Contains(out, "verified:   yes, with jwks_url "+s.URL+"/api/token/jwks.json (kid ") {
		t.Errorf("inspect --jwks-url: exit %d\n%s%s", code, out, errOut)
	}
	if strings.Contains(out+errOut, access[strings.LastIndexByte(access, '.')+1:]) {
		t.Error("inspect --jwks-url shows the signature")
	}
}

// TestCommandRevoke: with a real Caddy running, `caddy gatehouse revoke` against its
// configuration and storage (Caddy's file storage, then a Redis store) makes the next refresh of
// the revoked family fail, then every refresh of the revoked user's earlier logins, while other
// families and users refresh on, and the user can log in again.
func TestCommandRevoke(t *testing.T) {
	t.Run("file storage", func(t *testing.T) { revokeStory(t, "") })
	t.Run("redis", func(t *testing.T) { revokeStory(t, "\t\tstore redis "+startRedis(t).url()+"\n") })
}

func revokeStory(t *testing.T, store string) {
	c := newCaddyInstance(t)
	site := `
	jwt_issuer /api/token/* {
		name shop
		user alice ` + aliceHash + `
		user bob ` + aliceHash + `
		rotate_refresh
` + store + `	}`
	s := c.start(t, site)
	config := filepath.Join(c.dir, "Caddyfile") // what the running Caddy was started with
	login := func(user string) string {
		_, refresh := tokens(t, postJSON(t, s.URL+"/api/token/", credentials(user, "alice-pw")))
		return refresh
	}
	refresh := func(tok string) (int, string) {
		r := postJSON(t, s.URL+"/api/token/refresh/", tokenField("refresh", tok))
		if r.Status != 200 {
			return r.Status, ""
		}
		_, next := tokens(t, r)
		return r.Status, next
	}
	revoke := func(stdin string, args ...string) string {
		t.Helper()
		out, errOut, code := gatehouseCmd(t, c.dir, stdin, nil,
			append([]string{"revoke", "--config", config, "--adapter", "caddyfile", "--issuer", "shop"}, args...)...)
		if code != 0 {
			t.Fatalf("revoke %v: exit %d\n%s%s", args, code, out, errOut)
		}
		if stdin != "" && strings.Contains(out+errOut, stdin) {
			t.Fatal("revoke printed the token")
		}
		return out
	}

	a1, a2, b := login("alice"), login("alice"), login("bob")
	// One family, by its refresh token on stdin.
	if out := revoke(a1, "--token-stdin"); !strings.Contains(out, "issuer shop: revoked refresh token family ") {
		t.Errorf("revoke --token-stdin said %q", out)
	}
	if code, _ := refresh(a1); code != 401 {
		t.Fatalf("refresh of the revoked family: %d, want 401", code)
	}
	code, a2 := refresh(a2)
	if code != 200 {
		t.Fatalf("refresh of alice's other family: %d, want 200", code)
	}
	// All of alice's sessions.
	if out := revoke("", "--user", "alice"); !strings.Contains(out, `issuer shop: revoked the sessions of user "alice"`) {
		t.Errorf("revoke --user said %q", out)
	}
	if code, _ := refresh(a2); code != 401 {
		t.Fatalf("refresh of alice's session after revoke --user: %d, want 401", code)
	}
	if code, _ := refresh(b); code != 200 {
		t.Fatalf("bob's refresh after alice's revocation: %d, want 200", code)
	}
	// Tokens issued in the second of the revocation are refused too; the next second's login is new.
	time.Sleep(time.Until(time.Unix(time.Now().Unix()+1, 0)))
	if code, _ := refresh(login("alice")); code != 200 {
		t.Fatalf("alice logging in again: %d, want 200", code)
	}
}

// TestCommandUsers: users lists a users file's users with their algorithm and cost, never a
// hash, and names the lines jwt_issuer would skip.
func TestCommandUsers(t *testing.T) {
	dir := t.TempDir()
	argon := hashPassword(t, "argon2id", "bob-pw")
	file := filepath.Join(dir, "users.txt")
	writeFile(t, file, "# team\nalice:"+aliceHash+"\nbob:"+argon+"\n")
	out, errOut, code := gatehouseCmd(t, dir, "", nil, "users", "--file", file)
	if code != 0 {
		t.Fatalf("users: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"USER   LINE  ALGORITHM  COST", "alice  2     bcrypt     cost=04", "bob    3     argon2id   m=47104,t=1,p=1,k=32"} {
		if !strings.Contains(out, want) {
			t.Errorf("users output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out+errOut, aliceHash[7:]) || strings.Contains(out+errOut, argon[strings.LastIndexByte(argon, '$'):]) {
		t.Errorf("users shows a hash:\n%s%s", out, errOut)
	}
	writeFile(t, file, "alice:"+aliceHash+"\ncarol:plain-password\n")
	out, errOut, code = gatehouseCmd(t, dir, "", nil, "users", "--file", file)
	if code != 1 || !strings.Contains(errOut, file+":2: line skipped: unknown password hash format") || strings.Contains(out+errOut, "plain-password") {
		t.Errorf("a bad line: exit %d\n%s%s", code, out, errOut)
	}
}
