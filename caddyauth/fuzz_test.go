package caddyauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/gatehouse-dev/gatehouse/internal/testsign"
)

// The fuzz targets feed Caddyfile text for one directive to the parser the module registers, as
// Caddy's adapter would: the tokens of the directive, matcher extracted by the same Helper calls,
// route built by Helper.NewRoute. Properties: no panic; an error or exactly one route with one
// handler; that handler's JSON loads back into the module (unknown fields refused), validates,
// and marshals to the same JSON; a secret read from a placeholder never shows in the JSON or in
// an error.
//
// Seeds name key files as @DIR@/<file>; the target replaces @DIR@ with a directory holding them
// (fuzzFiles), so the corpus stays the same from machine to machine.

// Secrets of the fuzz files, distinctive so that a leak is recognisable.
const (
	fuzzSecret      = "fuzz-secret-0123456789abcdefghijklmnopqrstuv" // 44 bytes: a usable HS256 key
	fuzzShortSecret = "fuzz-short-secret"                            // too short for any HMAC
	fuzzSecretEnv   = "GATEHOUSE_FUZZ_SECRET"
)

// fuzzFiles writes the files the seeds name and returns their directory.
func fuzzFiles(f testing.TB) string {
	f.Helper()
	ecKey := testsign.EC("P-256")
	dir := f.TempDir()
	files := map[string][]byte{
		"rsa.pem":     testsign.PublicPEM(testsign.RSA(2048)),
		"weak.pem":    testsign.PublicPEM(testsign.RSA(1024)),
		"ec.pem":      testsign.PublicPEM(ecKey),
		"ed.pem":      testsign.PublicPEM(testsign.Ed25519()),
		"private.pem": testsign.PrivatePEM(ecKey),
		"jwks.json":   ecJWKS(ecKey, "k1"),
		"bad.json":    []byte(`{"kty":"EC"}`),
		"junk.pem":    []byte("hello"),
		"users":       []byte("# users\nbob:" + bobHash + "\ncarol:" + carolHash + "\nbroken line\n"),
		"secret":      []byte(fuzzSecret),
		"short":       []byte(fuzzShortSecret),
		"login.html":  []byte(`<form method="post" action="{{.Action}}"></form>`),
		"bad.html":    []byte(`{{.Action`),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			f.Fatal(err)
		}
	}
	f.Setenv(fuzzSecretEnv, fuzzSecret)
	return dir
}

// fuzzOutOfBounds reports inputs the targets do not try: device and kernel files (a read of
// /dev/stdin or a FIFO would block the worker, /dev/zero is just slow), and huge inputs.
func fuzzOutOfBounds(input string) bool {
	return len(input) > 1<<16 || strings.Contains(input, "/dev") || strings.Contains(input, "/proc") || strings.Contains(input, "/sys")
}

// fuzzDirective runs one input through parse, the directive's registered parser, checks the
// properties above on what it returns, and returns the parse error (errSkipped for input the
// targets do not try).
func fuzzDirective[M any, PM interface {
	*M
	Validate() error
}](t *testing.T, dir, directive, input string, parse func(httpcaddyfile.Helper) ([]httpcaddyfile.ConfigValue, error)) error {
	if fuzzOutOfBounds(input) {
		return errSkipped
	}
	literalSecret := strings.Contains(input, fuzzSecret) || strings.Contains(input, fuzzShortSecret)
	input = strings.ReplaceAll(input, "@DIR@", dir)
	// Tokenize, not NewTestDispenser: that one exits the process on input the lexer refuses
	// (an unclosed quote), which Caddy reports as an error.
	tokens, err := caddyfile.Tokenize([]byte(input), "Caddyfile")
	if err != nil {
		return err
	}
	if len(tokens) == 0 || tokens[0].Text != directive {
		tokens = append([]caddyfile.Token{{File: "Caddyfile", Line: 1, Text: directive}}, tokens...)
	}
	vals, err := parse(httpcaddyfile.Helper{Dispenser: caddyfile.NewDispenser(tokens)})
	if err != nil {
		if vals != nil {
			t.Fatalf("config values returned with error %v", err)
		}
		if err.Error() == "" {
			t.Fatal("empty error message")
		}
		if !literalSecret && (strings.Contains(err.Error(), fuzzSecret) || strings.Contains(err.Error(), fuzzShortSecret)) {
			t.Fatalf("error %q shows a secret read from a placeholder", err)
		}
		return err
	}
	if len(vals) != 1 || vals[0].Class != "route" {
		t.Fatalf("want one route, got %+v", vals)
	}
	route, ok := vals[0].Value.(caddyhttp.Route)
	if !ok || len(route.HandlersRaw) != 1 {
		t.Fatalf("want a route with one handler, got %#v", vals[0].Value)
	}
	if _, err := json.Marshal(route); err != nil {
		t.Fatalf("route does not marshal: %v", err)
	}
	raw := route.HandlersRaw[0]
	if !literalSecret && (bytes.Contains(raw, []byte(fuzzSecret)) || bytes.Contains(raw, []byte(fuzzShortSecret))) {
		t.Fatalf("JSON shows a secret read from a placeholder: %s", raw)
	}

	// The handler's JSON without its "handler" member is the module's own JSON.
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		t.Fatalf("handler JSON is not an object: %v\n%s", err, raw)
	}
	if string(members["handler"]) != `"`+directive+`"` {
		t.Fatalf("handler %s, want %q", members["handler"], directive)
	}
	delete(members, "handler")
	own, err := json.Marshal(members)
	if err != nil {
		t.Fatal(err)
	}
	m := PM(new(M))
	dec := json.NewDecoder(bytes.NewReader(own))
	dec.DisallowUnknownFields()
	if err := dec.Decode(m); err != nil {
		t.Fatalf("adapted JSON does not load into the module: %v\n%s", err, own)
	}
	if err := m.Validate(); err != nil {
		t.Fatalf("adapted JSON does not validate: %v\n%s", err, own)
	}
	again, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("module does not marshal: %v", err)
	}
	if a, b := jsonValue(t, own), jsonValue(t, again); !reflect.DeepEqual(a, b) {
		t.Fatalf("round trip changed the JSON\n%s\n%s", own, again)
	}
	return nil
}

// errSkipped is fuzzDirective's answer to input the targets do not try.
var errSkipped = errors.New("input out of the fuzz targets' bounds")

// jsonValue decodes data with numbers kept as written.
func jsonValue(t *testing.T, data []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	return v
}

// parseJWTAuthDirective is what httpcaddyfile.RegisterHandlerDirective makes of parseCaddyfile:
// the matcher taken off, the handler parsed, a route built.
func parseJWTAuthDirective(h httpcaddyfile.Helper) ([]httpcaddyfile.ConfigValue, error) {
	if !h.Next() {
		return nil, h.ArgErr()
	}
	matcherSet, err := h.ExtractMatcherSet()
	if err != nil {
		return nil, err
	}
	handler, err := parseCaddyfile(h)
	if err != nil {
		return nil, err
	}
	return h.NewRoute(matcherSet, handler), nil
}

// The seeds are the jwt_auth and jwt_issuer blocks of the Caddyfile tests and of
// Caddyfile.example: those that adapt (…Valid) and those that do not (…Invalid).

// jwtAuthValid: TestAdaptFull, TestAdaptMinimal, TestAdaptUnresolvedSecret, TestAdaptOrder,
// TestAdaptZeroConfigJWTAuth, and a few more.
var jwtAuthValid = []string{
	`jwt_auth /api/* {
	secret {env.` + fuzzSecretEnv + `}
	public_key @DIR@/rsa.pem
	jwks_file @DIR@/jwks.json
	jwks_url https://issuer.example/jwks.json refresh 15m
	jwks_url http://127.0.0.1:9999/jwks.json
	algorithms HS256 RS256 ES256
	issuer https://issuer.example other
	audience api
	leeway 30s
	token_type off
	from_header Authorization Bearer JWT
	from_cookie access
	from_query token
	user_claim email sub
	forward_claim sub X-User-Id
	forward_claim realm.roles X-Roles
	require scope read write
	require role admin
	optional
	max_token_size 4096
	cache_size 500
	realm shop
}`,
	"jwt_auth {\n\tsecret " + testSecret + "\n}",
	"jwt_auth {\n\tsecret {env.GATEHOUSE_TEST_UNSET_SECRET}\n}",
	"jwt_auth {\n\tsecret {file.@DIR@/secret}\n}",
	"jwt_auth",
	"jwt_auth {\n\tissuer https://gatehouse.test\n}",
	"jwt_auth * {\n\tpublic_key @DIR@/ed.pem\n\tpublic_key @DIR@/ec.pem\n\talgorithms EdDSA ES256\n}",
	"jwt_auth {\n\tsecret " + testSecret + "\n\ttoken_type refresh\n\tcache_size off\n\tuser_claim user_id\n}",
	"jwt_auth /private/* {\n\tforward_claim user_id X-User-Id\n}",
	// TestAdaptSession, and Caddyfile.example's with a path matcher.
	"jwt_auth /private/* {\n\tsession /api/token\n}",
	"jwt_auth /private/* {\n\tsession /api/token\n\tforward_claim user_id X-User-Id\n}",
}

// jwtAuthInvalid: TestAdaptErrors, TestAdaptSessionErrors, and a few more.
var jwtAuthInvalid = []string{
	// Caddyfile.example's: the named matcher is not defined here.
	"jwt_auth @protected {\n\tsession /api/token\n\tforward_claim user_id X-User-Id\n}",
	"jwt_auth {\n\tsession\n}",
	"jwt_auth {\n\tsession api/token\n}",
	"jwt_auth {\n\tsession /api/token/\n}",
	"jwt_auth {\n\tfrom_cookie c\n\tsession /api/token\n}",
	"jwt_auth {\n\tsession /api/token\n\tfrom_cookie c\n}",
	"jwt_auth {\n\tsecret tooshort\n}",
	"jwt_auth {\n\tsecret\n}",
	"jwt_auth {\n\tsecret " + testSecret + "\n\tsecret " + testSecret + "\n}",
	"jwt_auth {\n\tsecret " + testSecret + "\n\talgorithms HS256 RS257\n}",
	"jwt_auth {\n\tsecret " + testSecret + "\n\talgorithms none\n}",
	"jwt_auth {\n\tsecret " + testSecret + "\n\tleeway 6m\n}",
	"jwt_auth {\n\tsecret " + testSecret + "\n\tleeway soon\n}",
	"jwt_auth {\n\tjwks_url http://issuer.example/jwks.json\n}",
	"jwt_auth {\n\tjwks_url ftp://issuer.example/jwks.json\n}",
	"jwt_auth {\n\tjwks_url https://issuer.example/k refresh often\n}",
	"jwt_auth {\n\tjwks_url https://issuer.example/k refresh 1ms\n}",
	"jwt_auth {\n\tjwks_url https://issuer.example/k every 5m\n}",
	"jwt_auth {\n\tsecret " + testSecret + "\n\tmax_token_size 10\n}",
	"jwt_auth {\n\tsecret " + testSecret + "\n\tmax_token_size 2000000\n}",
	"jwt_auth {\n\tsecret " + testSecret + "\n\tmax_token_size 8k\n}",
	"jwt_auth {\n\tsecret " + testSecret + "\n\tcache_size 0\n}",
	"jwt_auth {\n\tsecret " + testSecret + "\n\tcache_size 2000000\n}",
	"jwt_auth {\n\tsecret " + testSecret + "\n\tcache_size off\n\tcache_size 5\n}",
	"jwt_auth {\n\tsecret " + testSecret + "\n\ttoken_type \"a\tb\"\n}",
	"jwt_auth {\n\tsecret " + testSecret + "\n\tforward_claim sub X-User:Id\n}",
	"jwt_auth {\n\tsecret " + testSecret + "\n\tforward_claim sub \"X User\"\n}",
	"jwt_auth {\n\tsecret " + testSecret + "\n\tforward_claim sub\n}",
	"jwt_auth {\n\tsecret " + testSecret + "\n\tforward_claim sub Host\n}",
	"jwt_auth {\n\tsecret " + testSecret + "\n\tfrom_header X-Token\n\tforward_claim sub x-token\n}",
	"jwt_auth {\n\tsecret " + testSecret + "\n\tforward_claim sub X-Token\n\tfrom_header X-Token\n}",
	"jwt_auth {\n\tsecret " + testSecret + "\n\tfrom_header Auth:x\n}",
	"jwt_auth {\n\tsecret " + testSecret + "\n\tfrom_cookie a b\n}",
	"jwt_auth {\n\tsecret " + testSecret + "\n\trequire scope\n}",
	"jwt_auth {\n\tsecret " + testSecret + "\n\trealm \"a\\\"b\"\n}",
	"jwt_auth {\n\tsecret " + testSecret + "\n\toptional yes\n}",
	"jwt_auth {\n\tsecret " + testSecret + "\n\tsecert x\n}",
	"jwt_auth extra {\n}",
	"jwt_auth /a/* {\n\tsecret \"\"\n}",
}

// jwtAuthLoadInvalid adapt, the parser reading tokens only, and fail when the configuration is
// loaded: a key file that is missing or bad, a secret file too short, a key the algorithms
// exclude (TestProvisionErrorsAtDirective).
var jwtAuthLoadInvalid = []string{
	"jwt_auth {\n\tsecret {file.@DIR@/short}\n}",
	"jwt_auth {\n\tpublic_key @DIR@/nope.pem\n}",
	"jwt_auth {\n\tpublic_key @DIR@/junk.pem\n}",
	"jwt_auth {\n\tpublic_key @DIR@/private.pem\n}",
	"jwt_auth {\n\tpublic_key @DIR@/weak.pem\n}",
	"jwt_auth {\n\tjwks_file @DIR@/bad.json\n}",
	"jwt_auth {\n\tjwks_file @DIR@/none.json\n}",
	"jwt_auth {\n\tpublic_key @DIR@/ec.pem\n\talgorithms RS256\n}",
	"jwt_auth {\n\talgorithms RS256\n\tpublic_key @DIR@/rsa.pem\n\tpublic_key @DIR@/ec.pem\n}",
}

func FuzzJWTAuthCaddyfile(f *testing.F) {
	dir := fuzzFiles(f)
	for _, s := range slices.Concat(jwtAuthValid, jwtAuthLoadInvalid, jwtAuthInvalid) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, input string) {
		_ = fuzzDirective[JWTAuth](t, dir, "jwt_auth", input, parseJWTAuthDirective)
	})
}

// jwtIssuerValid: TestAdaptIssuerFull, TestAdaptIssuerRoundTrip, TestAdaptIssuerBasePath,
// TestAdaptSession and Caddyfile.example.
var jwtIssuerValid = []string{
	`jwt_issuer /api/token/* {
	users_file @DIR@/users
	user alice ` + aliceHash + ` {
		claim user_id 7
		claim roles admin editor
		claim team blue
		claim zip 007
		claim big 123456789012345678901234567890
		claim neg -3
		claim safe 9007199254740991
	}
	user carol ` + carolHash + `
	signing_key auto EdDSA
	issuer https://gatehouse.test
	audience shop admin
	audience extra
	access_ttl 2m
	refresh_ttl 12h
	rotate_refresh
	rotate_keys 720h
	user_id_claim user_id
	login_limit 5 per 30s
	realm shop
}`,
	"jwt_issuer /api/token/* {\n\tcredentials_url https://app.example/auth/check\n\tsigning_key file @DIR@/private.pem\n\tlogin_limit off\n}",
	"jwt_issuer /api/token/* {\n\tuser bob " + bobHash + "\n\tsigning_key secret {env." + fuzzSecretEnv + "}\n}",
	"jwt_issuer /api/token/* {\n\tuser bob " + bobHash + "\n\tsigning_key secret {file.@DIR@/secret}\n}",
	"jwt_issuer /auth/* {\n\tuser alice " + aliceHash + " {\n\t\tclaim user_id 12345678901234567890\n\t\tclaim n 9007199254740991\n\t\tclaim roles admin editor\n\t}\n\tsigning_key secret " + testSecret + "\n\taudience a b\n\taccess_ttl 1m\n\tlogin_limit 3 per 1h\n}",
	// TestAdaptIssuerBasePath.
	"jwt_issuer /api/token* {\n\tuser bob " + bobHash + "\n}",
	"jwt_issuer /api/token/ {\n\tuser bob " + bobHash + "\n}",
	"jwt_issuer {\n\tuser bob " + bobHash + "\n}",
	"jwt_issuer * {\n\tuser bob " + bobHash + "\n}",
	"jwt_issuer /api/token/* {\n\tuser bob " + bobHash + "\n\tbase_path /api\n}",
	"jwt_issuer /api/token/* {\n\tuser demo $2a$14$J7z85SH/wCZP3QqGv3f9suwlzttdYNCu4OR0Urp82S4xdq2km0lrS {\n\t\tclaim user_id 1\n\t}\n\tsigning_key secret {env.GATEHOUSE_SECRET}\n\trotate_refresh\n\tsession\n}",
	"jwt_issuer /api/token/* {\n\tuser bob " + bobHash + "\n\tsession {\n\t\taccess_cookie __Host-a\n\t\trefresh_cookie __Host-r\n\t\tlogin_page @DIR@/login.html\n\t\torigin https://App.example https://admin.example:8443\n\t}\n}",
	"jwt_issuer /auth/* {\n\tuser bob " + bobHash + "\n\tsession\n}",
}

// jwtIssuerInvalid: TestAdaptIssuerErrors, TestAdaptSessionErrors, and a named matcher that is
// not defined.
var jwtIssuerInvalid = []string{
	"jwt_issuer @tok {\n\tuser bob " + bobHash + "\n}",
	"jwt_issuer /api/token/* {\n\tuser bob " + bobHash + "\n\tsession yes\n}",
	"jwt_issuer /api/token/* {\n\tuser bob " + bobHash + "\n\tsession {\n\t\taccess_cookie a;b\n\t}\n}",
	"jwt_issuer /api/token/* {\n\tuser bob " + bobHash + "\n\tsession {\n\t\taccess_cookie x\n\t\trefresh_cookie x\n\t}\n}",
	"jwt_issuer /api/token/* {\n\tuser bob " + bobHash + "\n\tsession {\n\t\torigin https://app.example/x\n\t}\n}",
	"jwt_issuer /api/token/* {\n\tuser bob " + bobHash + "\n\tsession {\n\t\torigin app.example\n\t}\n}",
	"jwt_issuer /api/token/* {\n\tuser bob " + bobHash + "\n\tsession {\n\t\tcookie x\n\t}\n}",
	"jwt_issuer /api/token/* {\n\tuser bob " + bobHash + "\n\tsession {\n\t\torigin https://a.example\n\t\torigin https://b.example\n\t}\n}",
	"jwt_issuer {\n\tuser bob " + bobHash + "\n\tsession\n}",
	"jwt_issuer {\n\tissuer x\n}",
	"jwt_issuer {\n\tuser bob " + bobHash + "\n\tcredentials_url https://app.example/check\n}",
	"jwt_issuer {\n\tusers_file @DIR@/users\n\tusers_file @DIR@/users\n}",
	"jwt_issuer {\n\tuser bob\n}",
	"jwt_issuer {\n\tuser bob secret123\n}",
	"jwt_issuer {\n\tuser bob $2a$04$short\n}",
	"jwt_issuer {\n\tuser bob " + bobHash + "\n\tuser bob " + bobHash + "\n}",
	"jwt_issuer {\n\tuser bob " + bobHash + " {\n\t\tclaim user_id\n\t}\n}",
	"jwt_issuer {\n\tuser bob " + bobHash + " {\n\t\tclaim exp 1\n\t}\n}",
	"jwt_issuer {\n\tuser bob " + bobHash + " {\n\t\tclaim Role a\n\t\tclaim role b\n\t}\n}",
	"jwt_issuer {\n\tuser bob " + bobHash + " {\n\t\tclaims x y\n\t}\n}",
	"jwt_issuer {\n\tcredentials_url ftp://app.example/check\n}",
	"jwt_issuer {\n\tcredentials_url https:///check\n}",
	"jwt_issuer {\n\tuser bob " + bobHash + "\n\tsigning_key\n}",
	"jwt_issuer {\n\tuser bob " + bobHash + "\n\tsigning_key vault x\n}",
	"jwt_issuer {\n\tuser bob " + bobHash + "\n\tsigning_key auto HS256\n}",
	"jwt_issuer {\n\tuser bob " + bobHash + "\n\tsigning_key auto ES256 x\n}",
	"jwt_issuer {\n\tuser bob " + bobHash + "\n\tsigning_key secret tooshort\n}",
	"jwt_issuer {\n\tuser bob " + bobHash + "\n\tsigning_key auto\n\tsigning_key auto\n}",
	"jwt_issuer {\n\tuser bob " + bobHash + "\n\tissuer a b\n}",
	"jwt_issuer {\n\tuser bob " + bobHash + "\n\taccess_ttl soon\n}",
	"jwt_issuer {\n\tuser bob " + bobHash + "\n\taccess_ttl 0s\n}",
	"jwt_issuer {\n\tuser bob " + bobHash + "\n\trefresh_ttl 10000h\n}",
	"jwt_issuer {\n\tuser bob " + bobHash + "\n\trotate_refresh yes\n}",
	"jwt_issuer {\n\tuser bob " + bobHash + "\n\trotate_keys 720h\n\tsigning_key secret " + testSecret + "\n}",
	"jwt_issuer {\n\tuser bob " + bobHash + "\n\trotate_keys 10m\n}",
	"jwt_issuer {\n\tuser bob " + bobHash + "\n\trotate_keys 1h\n\trefresh_ttl 720h\n}",
	"jwt_issuer {\n\tuser bob " + bobHash + "\n\trotate_keys -1h\n}",
	"jwt_issuer {\n\tuser bob " + bobHash + "\n\tuser_id_claim jti\n}",
	"jwt_issuer {\n\tuser bob " + bobHash + " {\n\t\tclaim User_ID 3\n\t}\n\tuser_id_claim user_id\n}",
	"jwt_issuer {\n\tuser bob " + bobHash + "\n\tlogin_limit 5 every 1m\n}",
	"jwt_issuer {\n\tuser bob " + bobHash + "\n\tlogin_limit 0 per 1m\n}",
	"jwt_issuer {\n\tuser bob " + bobHash + "\n\tlogin_limit 5 per 1ms\n}",
	"jwt_issuer {\n\tuser bob " + bobHash + "\n\tbase_path /api/\n}",
	"jwt_issuer {\n\tuser bob " + bobHash + "\n\trealm \"a\\\"b\"\n}",
	"jwt_issuer {\n\tuser bob " + bobHash + "\n\trotate_tokens\n}",
	"jwt_issuer /a/* one two {\n\tuser bob " + bobHash + "\n}",
	"jwt_issuer /api/*/token {\n\tuser bob " + bobHash + "\n}",
}

// jwtIssuerLoadInvalid adapt and fail when the configuration is loaded: a users file, signing
// key file or login page that is missing or bad, a secret file too short
// (TestIssuerProvisionErrorsAtDirective).
var jwtIssuerLoadInvalid = []string{
	"jwt_issuer /api/token/* {\n\tuser bob " + bobHash + "\n\tsession {\n\t\tlogin_page @DIR@/none.html\n\t}\n}",
	"jwt_issuer /api/token/* {\n\tuser bob " + bobHash + "\n\tsession {\n\t\tlogin_page @DIR@/bad.html\n\t}\n}",
	"jwt_issuer {\n\tusers_file @DIR@/none\n}",
	"jwt_issuer {\n\tuser bob " + bobHash + "\n\tsigning_key file @DIR@/ec.pem\n}",
	"jwt_issuer {\n\tuser bob " + bobHash + "\n\tsigning_key file @DIR@/none.pem\n}",
	"jwt_issuer {\n\tuser bob " + bobHash + "\n\tsigning_key secret {file.@DIR@/short}\n}",
}

func FuzzJWTIssuerCaddyfile(f *testing.F) {
	dir := fuzzFiles(f)
	for _, s := range slices.Concat(jwtIssuerValid, jwtIssuerLoadInvalid, jwtIssuerInvalid) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, input string) {
		_ = fuzzDirective[JWTIssuer](t, dir, "jwt_issuer", input, parseIssuerCaddyfile)
	})
}

// TestFuzzSeeds keeps the seeds honest: the valid ones adapt (and pass the fuzz properties), the
// invalid ones are refused, so the fuzzer starts from both sides of every check; the load-invalid
// ones adapt too, and fail when the adapted JSON is provisioned, at the directive's line.
func TestFuzzSeeds(t *testing.T) {
	dir := fuzzFiles(t)
	t.Setenv("GATEHOUSE_SECRET", "") // Caddyfile.example's {env.GATEHOUSE_SECRET}: unresolved here
	tests := []struct {
		directive string
		seeds     []string
		adapts    bool
		loads     bool
	}{
		{"jwt_auth", jwtAuthValid, true, true},
		{"jwt_auth", jwtAuthLoadInvalid, true, false},
		{"jwt_auth", jwtAuthInvalid, false, false},
		{"jwt_issuer", jwtIssuerValid, true, true},
		{"jwt_issuer", jwtIssuerLoadInvalid, true, false},
		{"jwt_issuer", jwtIssuerInvalid, false, false},
	}
	for _, tt := range tests {
		for i, seed := range tt.seeds {
			t.Run(fmt.Sprintf("%s/adapts=%v/loads=%v/%d", tt.directive, tt.adapts, tt.loads, i), func(t *testing.T) {
				var err error
				if tt.directive == "jwt_auth" {
					err = fuzzDirective[JWTAuth](t, dir, tt.directive, seed, parseJWTAuthDirective)
				} else {
					err = fuzzDirective[JWTIssuer](t, dir, tt.directive, seed, parseIssuerCaddyfile)
				}
				if tt.adapts && err != nil {
					t.Fatalf("seed refused: %v\n%s", err, seed)
				}
				if !tt.adapts {
					if err == nil {
						t.Errorf("seed adapted\n%s", seed)
					}
					return
				}
				if tt.loads {
					// Loading valid configurations is what the provisioning tests do; here only
					// the load-invalid seeds are loaded, to see them fail at their directive.
					return
				}
				err = loadSeed(t, dir, tt.directive, seed)
				if err == nil {
					t.Fatalf("seed loaded\n%s", seed)
				}
				if !strings.HasPrefix(err.Error(), "Caddyfile:1: ") {
					t.Errorf("error %q is not placed at the directive, Caddyfile:1", err)
				}
				if strings.Contains(err.Error(), fuzzSecret) || strings.Contains(err.Error(), fuzzShortSecret) {
					t.Errorf("error %q shows a secret", err)
				}
			})
		}
	}
}

// loadSeed parses seed as fuzzDirective does and provisions the handler of the adapted JSON, as
// `caddy validate` loads it, returning the error.
func loadSeed(t *testing.T, dir, directive, seed string) error {
	t.Helper()
	tokens, err := caddyfile.Tokenize([]byte(strings.ReplaceAll(seed, "@DIR@", dir)), "Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	parse := parseJWTAuthDirective
	if directive == "jwt_issuer" {
		parse = parseIssuerCaddyfile
	}
	vals, err := parse(httpcaddyfile.Helper{Dispenser: caddyfile.NewDispenser(tokens)})
	if err != nil {
		t.Fatal(err)
	}
	raw := vals[0].Value.(caddyhttp.Route).HandlersRaw[0]
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		t.Fatal(err)
	}
	delete(members, "handler")
	own, err := json.Marshal(members)
	if err != nil {
		t.Fatal(err)
	}
	if directive == "jwt_auth" {
		var j JWTAuth
		if err := json.Unmarshal(own, &j); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
		defer cancel()
		err = provisionIn(ctx, &j)
		_ = j.Cleanup()
		return err
	}
	var j JWTIssuer
	if err := json.Unmarshal(own, &j); err != nil {
		t.Fatal(err)
	}
	err = provisionIssuerIn(&j, nil)
	_ = j.Cleanup()
	return err
}
