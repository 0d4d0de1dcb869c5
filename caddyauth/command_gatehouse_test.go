package caddyauth

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/caddyserver/certmagic"
	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/internal/keys"
	"github.com/gatehouse-dev/gatehouse/internal/mint"
	"github.com/gatehouse-dev/gatehouse/internal/revoke"
	"github.com/gatehouse-dev/gatehouse/internal/verify"
)

// ran is what a subcommand wrote and returned.
type ran struct {
	out, err string
	code     int
	e        error
}

// all is everything the command showed: stdout, stderr and its error.
func (r ran) all() string {
	s := r.out + r.err
	if r.e != nil {
		s += r.e.Error()
	}
	return s
}

// runCmd parses args with cmd's flags and runs f as the binary would, with stdin in;
// terminal says whether stdout and stdin are terminals.
func runCmd(t *testing.T, cmd *cobra.Command, f func(caddycmd.Flags, stdio) (int, error), in string, terminal bool, args ...string) ran {
	t.Helper()
	if err := cmd.Flags().Parse(args); err != nil {
		t.Fatalf("flags %q: %v", args, err)
	}
	var out, errOut bytes.Buffer
	code, err := f(caddycmd.Flags{FlagSet: cmd.Flags()}, stdio{in: strings.NewReader(in), out: &out, err: &errOut,
		outTerminal: terminal, inTerminal: terminal})
	return ran{out.String(), errOut.String(), code, err}
}

func keygen(t *testing.T, terminal bool, args ...string) ran {
	return runCmd(t, keygenCommand(), cmdKeygen, "", terminal, args...)
}

func inspect(t *testing.T, in string, now time.Time, args ...string) ran {
	return runCmd(t, inspectCommand(), func(fs caddycmd.Flags, s stdio) (int, error) { return cmdInspect(fs, s, now) }, in, false, args...)
}

// TestKeygen: each algorithm's private key is written 0600 and never printed; its JWK Set and
// public PEM verify, through jwt_auth's verifier, a token signed with the private key.
func TestKeygen(t *testing.T) {
	for _, tt := range []struct {
		alg  string
		args []string
	}{{"EdDSA", nil}, {"ES256", nil}, {"ES384", nil}, {"ES512", nil}, {"RS256", []string{"--bits", "2048"}}, {"PS384", []string{"--bits", "2048"}}} {
		t.Run(tt.alg, func(t *testing.T) {
			dir := t.TempDir()
			key, pub, set := filepath.Join(dir, "key.pem"), filepath.Join(dir, "public.pem"), filepath.Join(dir, "jwks.json")
			r := keygen(t, true, append([]string{"--alg", tt.alg, "--out", key, "--public", pub}, tt.args...)...)
			if r.e != nil || r.code != 0 {
				t.Fatalf("keygen: %d %v %s", r.code, r.e, r.err)
			}
			if strings.Contains(r.all(), "PRIVATE") {
				t.Fatalf("the private key was printed:\n%s", r.all())
			}
			fi, err := os.Stat(key)
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("private key file: %v, mode %v; want 0600", err, fi.Mode())
			}
			// Without --jwks, the JWK Set is stdout.
			if err := os.WriteFile(set, []byte(r.out), 0o644); err != nil {
				t.Fatal(err)
			}
			priv, _ := os.ReadFile(key)
			signer, err := mint.ParsePEM(priv, tt.alg)
			if err != nil {
				t.Fatalf("the private key does not load as a jwt_issuer signing_key file: %v", err)
			}
			if !strings.Contains(r.err, "kid "+signer.Kid) {
				t.Errorf("stderr %q does not name kid %s", r.err, signer.Kid)
			}
			tok, err := mint.Standalone(signer, time.Now(), time.Minute, nil)
			if err != nil {
				t.Fatal(err)
			}
			fromJWKS, _, err := loadJWKS(set)
			if err != nil || len(fromJWKS) != 1 || fromJWKS[0].ID != signer.Kid {
				t.Fatalf("JWK Set: %v %v", fromJWKS, err)
			}
			fromPEM, err := loadPEM(pub)
			if err != nil {
				t.Fatal(err)
			}
			for name, k := range map[string]*keys.Key{"jwks": fromJWKS[0], "public pem": fromPEM} {
				v, err := verify.New(verify.Policy{}, keys.Static{Set: keys.NewSet(k)}, nil)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := v.Verify(context.Background(), tok.Raw); err != nil {
					t.Errorf("%s does not verify the token: %v", name, err)
				}
			}
		})
	}
}

func TestKeygenRefuses(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(existing, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name     string
		terminal bool
		args     []string
		errHas   string
	}{
		{"no --out", false, nil, "--out is required"},
		{"private key to a terminal", true, []string{"--out", "-", "--jwks", filepath.Join(dir, "j.json")}, "refusing to print a private key to a terminal"},
		{"private key and JWK Set both on stdout", false, []string{"--out", "-"}, "add --jwks"},
		{"existing file", false, []string{"--out", existing}, "exists; choose another file or add --force"},
		{"unknown algorithm", false, []string{"--out", filepath.Join(dir, "a.pem"), "--alg", "HS256"}, "cannot generate"},
		{"small RSA", false, []string{"--out", filepath.Join(dir, "b.pem"), "--alg", "RS256", "--bits", "1024"}, "out of range"},
		{"same file twice", false, []string{"--out", filepath.Join(dir, "c.pem"), "--public", filepath.Join(dir, "c.pem")}, "use two files"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := keygen(t, tt.terminal, tt.args...)
			if r.e == nil || r.code == 0 || !strings.Contains(r.e.Error(), tt.errHas) {
				t.Fatalf("got %d %v, want an error containing %q", r.code, r.e, tt.errHas)
			}
			if capitalized(r.e.Error()) {
				t.Errorf("error %q starts with a capital (acronyms aside)", r.e)
			}
			if strings.Contains(r.all(), "PRIVATE") {
				t.Fatal("a private key was printed")
			}
		})
	}
	if b, _ := os.ReadFile(existing); string(b) != "keep me" {
		t.Fatal("an existing file was replaced")
	}
	// Piped (not a terminal), --out - is the way to hand the key to another program.
	r := keygen(t, false, "--out", "-", "--jwks", filepath.Join(dir, "piped.json"))
	if r.e != nil || !strings.HasPrefix(r.out, "-----BEGIN PRIVATE KEY-----") {
		t.Fatalf("piped --out -: %v %q", r.e, r.out)
	}
	// --force replaces, and the replacement is 0600 whatever the old file's mode.
	if err := os.Chmod(existing, 0o644); err != nil {
		t.Fatal(err)
	}
	if r := keygen(t, false, "--out", existing, "--force", "--jwks", filepath.Join(dir, "f.json")); r.e != nil {
		t.Fatal(r.e)
	}
	if fi, _ := os.Stat(existing); fi.Mode().Perm() != 0o600 {
		t.Fatalf("replaced key has mode %v", fi.Mode())
	}
}

// TestInspect: header, claims and times in human terms; verification with the secret, a key
// file or a JWK Set; the secret, the signature and secret-looking claims never shown.
func TestInspect(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	secret := "inspect-secret-0123456789abcdef-XYZ"
	t.Setenv("INSPECT_SECRET", secret)
	t.Setenv("WRONG_SECRET", strings.Repeat("w", 32))
	hs, err := mint.NewHMACAlg("HS256", []byte(secret), "")
	if err != nil {
		t.Fatal(err)
	}
	payload := `{"sub":"alice","user_id":7,"password":"hunter2-pw","nested":{"client_secret":"s3cr3t-v"},` +
		`"iat":` + strconv.FormatInt(now.Add(-2*time.Minute).Unix(), 10) + `,"exp":` + strconv.FormatInt(now.Add(4*time.Minute+12*time.Second).Unix(), 10) + `}`
	tok, err := hs.Sign([]byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	sig := tok[strings.LastIndexByte(tok, '.')+1:]
	noSecrets := func(t *testing.T, r ran) {
		t.Helper()
		for _, s := range []string{secret, sig, "hunter2-pw", "s3cr3t-v", tok} {
			if strings.Contains(r.all(), s) {
				t.Errorf("output shows %q:\n%s", s, r.all())
			}
		}
	}

	r := inspect(t, tok+"\n", now, "--secret-env", "INSPECT_SECRET")
	if r.e != nil || r.code != 0 {
		t.Fatalf("inspect: %d %v\n%s", r.code, r.e, r.all())
	}
	for _, want := range []string{`"alg": "HS256"`, `"sub": "alice"`, `"user_id": 7`, `"password": "[hidden]"`,
		`"client_secret": "[hidden]"`, "(valid for 4 minutes 12 seconds)", "(2 minutes ago)",
		"signature:  HS256, 32 bytes (not shown)", "verified:   yes, with --secret-env INSPECT_SECRET"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("output lacks %q:\n%s", want, r.out)
		}
	}
	noSecrets(t, r)

	// Expired three minutes ago: the signature is good, the token is not.
	late := now.Add(7*time.Minute + 12*time.Second)
	r = inspect(t, tok, late, "--secret-env", "INSPECT_SECRET", "--leeway", "0s")
	if r.code == 0 || !strings.Contains(r.out, "(expired 3 minutes ago)") ||
		!strings.Contains(r.out, "the signature is valid") || !strings.Contains(r.e.Error(), "token_expired") {
		t.Errorf("expired token: %d %v\n%s", r.code, r.e, r.out)
	}
	noSecrets(t, r)

	// Another secret: refused, and neither secret shown.
	r = inspect(t, tok, now, "--secret-env", "WRONG_SECRET")
	if r.code == 0 || !strings.Contains(r.out, "verified:   no: token signature does not verify") {
		t.Errorf("wrong secret: %d %v\n%s", r.code, r.e, r.out)
	}
	noSecrets(t, r)
	if strings.Contains(r.all(), strings.Repeat("w", 32)) {
		t.Error("the wrong secret is shown")
	}

	// No keys: shown, not verified; from --token-env; as an argument, with a warning.
	t.Setenv("THE_TOKEN", tok)
	r = inspect(t, "", now, "--token-env", "THE_TOKEN")
	if r.e != nil || !strings.Contains(r.out, "verified:   not checked") {
		t.Errorf("--token-env: %v\n%s", r.e, r.out)
	}
	noSecrets(t, r)
	r = inspect(t, "", now, tok)
	if r.e != nil || !strings.Contains(r.err, "warning: a token on the command line") {
		t.Errorf("argument: %v\n%s", r.e, r.err)
	}
}

// TestInspectKeys: an EdDSA token verifies with the keygen's private key file, its public PEM
// and its JWK Set, and names the key that did.
func TestInspectKeys(t *testing.T) {
	dir := t.TempDir()
	key, pub, set := filepath.Join(dir, "k.pem"), filepath.Join(dir, "p.pem"), filepath.Join(dir, "j.json")
	if r := keygen(t, false, "--alg", "EdDSA", "--out", key, "--public", pub, "--jwks", set); r.e != nil {
		t.Fatal(r.e)
	}
	priv, _ := os.ReadFile(key)
	signer, err := mint.ParsePEM(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := mint.Standalone(signer, time.Now(), time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--key", key}, {"--key", pub}, {"--jwks-file", set}} {
		r := inspect(t, tok.Raw, time.Now(), args...)
		if r.e != nil || !strings.Contains(r.out, "verified:   yes") || !strings.Contains(r.out, "(kid "+signer.Kid+")") &&
			!strings.Contains(r.out, "key "+args[1]) {
			t.Errorf("%v: %v\n%s", args, r.e, r.out)
		}
		if strings.Contains(r.all(), string(priv)) || strings.Contains(r.all(), tok.Raw[strings.LastIndexByte(tok.Raw, '.')+1:]) {
			t.Errorf("%v: the key or the signature is shown", args)
		}
	}
}

func TestInspectRefuses(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		args     []string
		errHas   string
	}{
		{"empty stdin", "", nil, "no token on stdin"},
		{"not a token", "abc", nil, "not a JSON Web Token"},
		{"JWE", "a.b.c.d.e", nil, "encrypted (JWE)"},
		{"bad header", "!!.e30.AA", nil, "header is not base64url JSON"},
		{"unset token env", "", []string{"--token-env", "NO_SUCH_TOKEN_VAR"}, "NO_SUCH_TOKEN_VAR is unset or empty"},
		{"unset secret env", hsToken(""), []string{"--secret-env", "NO_SUCH_SECRET_VAR"}, "NO_SUCH_SECRET_VAR is unset or empty"},
		{"missing key file", hsToken(""), []string{"--key", "/nonexistent/k.pem"}, "cannot read the file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := inspect(t, tt.in, time.Now(), tt.args...)
			if r.e == nil || r.code == 0 || !strings.Contains(r.e.Error(), tt.errHas) {
				t.Fatalf("got %d %v, want an error containing %q", r.code, r.e, tt.errHas)
			}
			if capitalized(r.e.Error()) {
				t.Errorf("error %q starts with a capital", r.e)
			}
		})
	}
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "less than a second", time.Second: "1 second", 59 * time.Second: "59 seconds",
		3 * time.Minute: "3 minutes", 4*time.Minute + 12*time.Second: "4 minutes 12 seconds",
		time.Hour + time.Second: "1 hour", 26 * time.Hour: "1 day 2 hours", 30 * 24 * time.Hour: "30 days",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestUsersCommand(t *testing.T) {
	dir := t.TempDir()
	argon := "$argon2id$v=19$m=47104,t=1,p=1$c2FsdHNhbHRzYWx0$" + b64.EncodeToString(bytes.Repeat([]byte{1}, 32))
	argon = strings.ReplaceAll(strings.ReplaceAll(argon, "-", "+"), "_", "/")
	file := filepath.Join(dir, "users.txt")
	if err := os.WriteFile(file, []byte("alice:"+aliceHash+"\nbob:"+argon+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCmd(t, usersCommand(), cmdUsers, "", false, "--file", file)
	if r.e != nil {
		t.Fatal(r.e)
	}
	for _, want := range []string{"alice  1     bcrypt     cost=04", "bob    2     argon2id   m=47104,t=1,p=1,k=32"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("output lacks %q:\n%s", want, r.out)
		}
	}
	if strings.Contains(r.all(), aliceHash[7:]) || strings.Contains(r.all(), "c2FsdHNhbHRzYWx0") {
		t.Errorf("a hash is shown:\n%s", r.all())
	}
	if err := os.WriteFile(file, []byte("alice:"+aliceHash+"\ncarol:secret-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = runCmd(t, usersCommand(), cmdUsers, "", false, "--file", file)
	if r.code == 0 || !strings.Contains(r.err, file+":2: line skipped: unknown password hash format") || strings.Contains(r.all(), "secret-pw") {
		t.Errorf("skipped line: %d %v\n%s", r.code, r.e, r.all())
	}
	if r := runCmd(t, usersCommand(), cmdUsers, "", false); r.e == nil || !strings.Contains(r.e.Error(), "--file is required") {
		t.Errorf("no file: %v", r.e)
	}
}

// TestRevokeCommand: against a Caddyfile's file storage, --user and --token-stdin write what
// a running issuer on that storage then refuses; the issuer is found by name; mistakes are
// explained.
func TestRevokeCommand(t *testing.T) {
	dir := t.TempDir()
	caddyfile := filepath.Join(dir, "Caddyfile")
	storageDir := filepath.Join(dir, "storage")
	config := "{\n\tstorage file_system " + storageDir + "\n\tgatehouse {\n\t\tissuer shop {\n\t\t\tuser alice " + aliceHash +
		"\n\t\t\trefresh_ttl 2h\n\t\t}\n\t}\n}\n:8080 {\n\tjwt_issuer /shop/* shop\n\tjwt_issuer /api/token/* {\n\t\tuser bob " + aliceHash + "\n\t}\n}\n"
	if err := os.WriteFile(caddyfile, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	run := func(in string, args ...string) ran {
		return runCmd(t, revokeCommand(), func(fs caddycmd.Flags, s stdio) (int, error) { return cmdRevoke(fs, s, now) }, in, false,
			append([]string{"--config", caddyfile, "--adapter", "caddyfile"}, args...)...)
	}
	store := func(name string) *revoke.Store {
		s, err := revoke.New(revoke.Config{Storage: &certmagic.FileStorage{Path: storageDir}, Prefix: storagePrefix(name) + "revoke"})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ctx := context.Background()

	r := run("", "--issuer", "shop", "--user", "alice")
	if r.e != nil || !strings.Contains(r.out, `issuer shop: revoked the sessions of user "alice"`) ||
		!strings.Contains(r.err, "note: access tokens already issued stay valid until they expire (access_ttl 5m0s)") {
		t.Fatalf("--user: %v\n%s", r.e, r.all())
	}
	if err := store("shop").CheckUser(ctx, "alice", now.Add(-time.Second)); !errors.Is(err, revoke.ErrUserRevoked) {
		t.Fatalf("after revoke --user, CheckUser = %v", err)
	}
	if err := store("default").CheckUser(ctx, "alice", now.Add(-time.Second)); err != nil {
		t.Fatalf("another issuer's users were revoked: %v", err)
	}

	signer, err := mint.NewHMAC([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	refresh, err := signer.Sign([]byte(`{"token_type":"refresh","exp":` + strconv.FormatInt(now.Add(time.Hour).Unix(), 10) +
		`,"jti":"jti-2","fam":"fam-1","user_id":"bob"}`))
	if err != nil {
		t.Fatal(err)
	}
	r = run(refresh, "--issuer", "default", "--token-stdin")
	if r.e != nil || !strings.Contains(r.out, "issuer default: revoked refresh token family fam-1") || strings.Contains(r.all(), refresh) {
		t.Fatalf("--token-stdin: %v\n%s", r.e, r.all())
	}
	if err := store("default").Check(ctx, "jti-9", "fam-1"); !errors.Is(err, revoke.ErrRevoked) {
		t.Fatalf("after revoke --token-stdin, Check = %v", err)
	}
	if r := run("", "--issuer", "shop", "--family", "fam-7"); r.e != nil {
		t.Fatal(r.e)
	}
	if err := store("shop").Check(ctx, "jti-9", "fam-7"); !errors.Is(err, revoke.ErrRevoked) {
		t.Fatalf("after revoke --family, Check = %v", err)
	}

	access, _ := signer.Sign([]byte(`{"token_type":"access","exp":1,"jti":"j"}`))
	for _, tt := range []struct {
		name, in string
		args     []string
		errHas   string
	}{
		{"nothing to revoke", "", []string{"--issuer", "shop"}, "give one of --family"},
		{"two things", "", []string{"--user", "a", "--family", "f"}, "give one of --family"},
		{"several issuers", "", []string{"--user", "alice"}, "several issuers; choose one with --issuer: default, shop"},
		{"unknown issuer", "", []string{"--issuer", "nope", "--user", "a"}, "no issuer named nope; its issuers are: default, shop"},
		{"bad family id", "", []string{"--issuer", "shop", "--family", "../x"}, "family id must be"},
		{"access token", access, []string{"--issuer", "shop", "--token-stdin"}, "not a refresh token"},
		{"empty stdin", "", []string{"--issuer", "shop", "--token-stdin"}, "no refresh token on stdin"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := run(tt.in, tt.args...)
			if r.e == nil || r.code == 0 || !strings.Contains(r.e.Error(), tt.errHas) {
				t.Fatalf("got %d %v, want an error containing %q", r.code, r.e, tt.errHas)
			}
			if capitalized(r.e.Error()) {
				t.Errorf("error %q starts with a capital", r.e)
			}
		})
	}
}

// capitalized reports whether s starts like a sentence ("Cannot..."), not lowercase or with an
// acronym ("RSA key...").
func capitalized(s string) bool {
	return len(s) >= 2 && 'A' <= s[0] && s[0] <= 'Z' && 'a' <= s[1] && s[1] <= 'z'
}
