package caddyauth

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/modules/caddyhttp/standard"
)

// adapt turns a Caddyfile into JSON with Caddy's own adapter.
func adapt(t *testing.T, caddyfile string) ([]byte, error) {
	t.Helper()
	out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), nil)
	return out, err
}

// expectAdaptError checks that caddyfile fails to adapt with an error that contains want, names
// Caddyfile:line, and mentions none of secrets.
func expectAdaptError(t *testing.T, caddyfile string, line int, want string, secrets ...string) {
	t.Helper()
	_, err := adapt(t, caddyfile)
	if err == nil {
		t.Fatal("adapted without error")
	}
	msg := err.Error()
	if !strings.Contains(msg, want) {
		t.Errorf("error %q\nwant it to contain %q", msg, want)
	}
	if at := fmt.Sprintf("Caddyfile:%d", line); !strings.Contains(msg, at) {
		t.Errorf("error %q does not name %s", msg, at)
	}
	for _, s := range secrets {
		if strings.Contains(msg, s) {
			t.Error("error message contains a secret or a hash")
		}
	}
}

// handlers returns, depth first, every handler object of the adapted config, in order.
func handlers(t *testing.T, config []byte) []map[string]any {
	t.Helper()
	var root any
	if err := json.Unmarshal(config, &root); err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if _, ok := v["handler"]; ok {
				out = append(out, v)
			}
			// Map keys in sorted order: "handle" (a subroute's routes) before "match".
			for _, k := range slices.Sorted(maps.Keys(v)) {
				walk(v[k])
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(root)
	return out
}

// handlerNames lists the handler names of the adapted config, in order.
func handlerNames(t *testing.T, config []byte) []string {
	var names []string
	for _, h := range handlers(t, config) {
		names = append(names, h["handler"].(string))
	}
	return names
}

// jwtHandler returns the one jwt_auth handler of the adapted config.
func jwtHandler(t *testing.T, config []byte) map[string]any {
	t.Helper()
	var found []map[string]any
	for _, h := range handlers(t, config) {
		if h["handler"] == "jwt_auth" {
			found = append(found, h)
		}
	}
	if len(found) != 1 {
		t.Fatalf("found %d jwt_auth handlers in\n%s", len(found), config)
	}
	return found[0]
}

// TestAdaptFull checks that every subdirective lands in its JSON field.
func TestAdaptFull(t *testing.T) {
	dir := t.TempDir()
	rsaKey, _ := testRSA(t)
	pemPath := writeFile(t, dir, "rsa.pem", pemPublic(t, &rsaKey.PublicKey))
	jwksPath := writeFile(t, dir, "jwks.json", ecJWKS(testEC(t), "k1"))
	t.Setenv("GATEHOUSE_TEST_SECRET", testSecret)

	cfg, err := adapt(t, `
:8080 {
	jwt_auth /api/* {
		secret {env.GATEHOUSE_TEST_SECRET}
		public_key `+pemPath+`
		jwks_file `+jwksPath+`
		jwks_url https://issuer.example/jwks.json refresh 15m
		jwks_url http://127.0.0.1:9999/jwks.json
		algorithms HS256 RS256 ES256
		issuer https://issuer.example other
		audience api
		leeway 30s
		token_type off
		typ at+jwt application/jwt
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
	}
	respond "ok"
}`)
	if err != nil {
		t.Fatal(err)
	}
	got := jwtHandler(t, cfg)
	want := map[string]any{
		"handler":     "jwt_auth",
		"secret":      "{env.GATEHOUSE_TEST_SECRET}",
		"public_keys": []any{pemPath},
		"jwks_files":  []any{jwksPath},
		"jwks_urls": []any{
			map[string]any{"url": "https://issuer.example/jwks.json", "refresh": float64(15 * 60 * 1e9)},
			map[string]any{"url": "http://127.0.0.1:9999/jwks.json"},
		},
		"algorithms": []any{"HS256", "RS256", "ES256"},
		"issuers":    []any{"https://issuer.example", "other"},
		"audiences":  []any{"api"},
		"leeway":     float64(30e9),
		"token_type": "off",
		"typ":        []any{"at+jwt", "application/jwt"},
		"sources": []any{
			map[string]any{"from": "header", "name": "Authorization", "schemes": []any{"Bearer", "JWT"}},
			map[string]any{"from": "cookie", "name": "access"},
			map[string]any{"from": "query", "name": "token"},
		},
		"user_claims": []any{"email", "sub"},
		"forward_claims": []any{
			map[string]any{"claim": "sub", "header": "X-User-Id"},
			map[string]any{"claim": "realm.roles", "header": "X-Roles"},
		},
		"require": []any{
			map[string]any{"claim": "scope", "values": []any{"read", "write"}},
			map[string]any{"claim": "role", "values": []any{"admin"}},
		},
		"optional":       true,
		"max_token_size": float64(4096),
		"cache_size":     float64(500),
		"realm":          "shop",
		"source":         "Caddyfile:3",
	}
	if !reflect.DeepEqual(got, want) {
		a, _ := json.MarshalIndent(got, "", "  ")
		b, _ := json.MarshalIndent(want, "", "  ")
		t.Errorf("jwt_auth JSON\n%s\nwant\n%s", a, b)
	}
	if strings.Contains(string(cfg), testSecret) {
		t.Error("the resolved secret leaked into the JSON")
	}
}

// TestAdaptMinimal: the defaults are left out of the JSON (Provision applies them).
func TestAdaptMinimal(t *testing.T) {
	cfg, err := adapt(t, ":8080\njwt_auth {\n\tsecret "+testSecret+"\n}\nrespond ok\n")
	if err != nil {
		t.Fatal(err)
	}
	got := jwtHandler(t, cfg)
	want := map[string]any{"handler": "jwt_auth", "secret": testSecret, "source": "Caddyfile:2"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestAdaptLeeway: an explicit leeway 0 is kept in the JSON as 0, distinct from no leeway at all
// (the default, left out).
func TestAdaptLeeway(t *testing.T) {
	for _, tt := range []struct {
		line string
		want any // the "leeway" member; nil when absent
	}{
		{"", nil},
		{"leeway 0", float64(0)},
		{"leeway 0s", float64(0)},
		{"leeway 90s", float64(90e9)},
	} {
		cfg, err := adapt(t, ":8080\njwt_auth {\n\tsecret "+testSecret+"\n\t"+tt.line+"\n}\nrespond ok\n")
		if err != nil {
			t.Fatal(err)
		}
		got, ok := jwtHandler(t, cfg)["leeway"]
		if tt.want == nil {
			if ok {
				t.Errorf("%q: leeway %v in the JSON, want none", tt.line, got)
			}
			continue
		}
		if !ok || got != tt.want {
			t.Errorf("%q: leeway %v (present %v), want %v", tt.line, got, ok, tt.want)
		}
	}
}

// TestAdaptUnresolvedSecret: a placeholder that does not resolve at adapt time is kept for
// Provision to resolve on the server.
func TestAdaptUnresolvedSecret(t *testing.T) {
	cfg, err := adapt(t, ":8080\njwt_auth {\n\tsecret {env.GATEHOUSE_TEST_UNSET_SECRET}\n}\nrespond ok\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := jwtHandler(t, cfg)["secret"]; got != "{env.GATEHOUSE_TEST_UNSET_SECRET}" {
		t.Errorf("secret %v", got)
	}
}

// TestAdaptOrder: with no `order` option, jwt_auth runs before the handlers that answer, in a
// plain site, inside route and inside handle.
func TestAdaptOrder(t *testing.T) {
	tests := []struct {
		name      string
		caddyfile string
		want      []string
	}{
		{"site", `:8080 {
	file_server
	reverse_proxy /api/* 127.0.0.1:9000
	jwt_auth {
		secret ` + testSecret + `
	}
	basic_auth /admin/* {
		alice $2a$14$Zkx19XLiW6VYouLHR5NmfOFU0z2GTNmpkT/5qqR7hx4IjWJPDhjvG
	}
}`, []string{"authentication", "jwt_auth", "reverse_proxy", "file_server"}},
		{"route keeps written order", `:8080 {
	route /api/* {
		header X-A 1
		jwt_auth {
			secret ` + testSecret + `
		}
		respond "ok"
	}
}`, []string{"subroute", "headers", "jwt_auth", "static_response"}},
		{"handle", `:8080 {
	handle /api/* {
		respond "ok"
		jwt_auth {
			secret ` + testSecret + `
		}
	}
}`, []string{"subroute", "jwt_auth", "static_response"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := adapt(t, tt.caddyfile)
			if err != nil {
				t.Fatal(err)
			}
			if got := handlerNames(t, cfg); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("handlers %v, want %v", got, tt.want)
			}
		})
	}
}

// TestAdaptErrors checks that each config mistake is reported at its Caddyfile line with a
// message that says what to fix.
func TestAdaptErrors(t *testing.T) {
	tests := []struct {
		name string
		body string // the lines inside jwt_auth { }, starting at Caddyfile line 3
		line int
		want string
	}{
		{"short secret", "secret tooshort", 3, "secret is 8 bytes; HMAC needs at least 32 (generate one with: openssl rand -base64 48)"},
		{"secret without value", "secret", 3, "secret takes <secret>, e.g. secret {env.JWT_SECRET}; got no value"},
		{"secret twice", "secret " + testSecret + "\n\t\tsecret " + testSecret, 4, "secret is already set"},
		{"empty secret", `secret ""`, 3, "secret must not be empty"},
		{"empty public_key", `public_key ""`, 3, "public_key: the file name must not be empty"},
		{"empty jwks_file", `jwks_file ""`, 3, "jwks_file: the file name must not be empty"},
		{"unknown algorithm", "secret " + testSecret + "\n\t\talgorithms HS256 RS257", 4, `unknown algorithm "RS257"; supported (case-sensitive)`},
		{"none", "secret " + testSecret + "\n\t\talgorithms none", 4, `algorithm "none" is never accepted`},
		{"leeway too long", "secret " + testSecret + "\n\t\tleeway 6m", 4, "leeway 6m0s is out of range; use a duration from 0 to 5m0s"},
		{"leeway not a duration", "secret " + testSecret + "\n\t\tleeway soon", 4, `leeway "soon" is not a duration`},
		{"leeway twice", "secret " + testSecret + "\n\t\tleeway 0\n\t\tleeway 5s", 5, "leeway is already set"},
		{"typ without value", "secret " + testSecret + "\n\t\ttyp", 4, "typ takes the accepted JOSE header typ values, e.g. typ at+jwt"},
		{"typ not a media type", "secret " + testSecret + "\n\t\ttyp \"at jwt\"", 4, `typ "at jwt" is not a media type`},
		{"typ with a parameter", "secret " + testSecret + "\n\t\ttyp at+jwt;v=1", 4, `typ "at+jwt;v=1" is not a media type`},
		{"require scope of two words", "secret " + testSecret + "\n\t\trequire scope \"api:read api:write\"", 4,
			`require scope: "api:read api:write" is not a single scope; scope is matched word by word`},
		{"http jwks_url", "jwks_url http://issuer.example/jwks.json", 3, "use https; plain http is allowed only to a loopback host"},
		{"ftp jwks_url", "jwks_url ftp://issuer.example/jwks.json", 3, `scheme "ftp" is not supported`},
		{"jwks_url bad refresh", "jwks_url https://issuer.example/k refresh often", 3, `refresh "often" is not a duration`},
		{"jwks_url tiny refresh", "jwks_url https://issuer.example/k refresh 1ms", 3, "refresh 1ms is too short"},
		{"jwks_url extra args", "jwks_url https://issuer.example/k every 5m", 3, "jwks_url takes a URL and optionally refresh <duration>"},
		{"max_token_size small", "secret " + testSecret + "\n\t\tmax_token_size 10", 4, "max_token_size 10 is out of range; use a number of bytes from 256 to 1048576"},
		{"max_token_size large", "secret " + testSecret + "\n\t\tmax_token_size 2000000", 4, "is out of range"},
		{"max_token_size not a number", "secret " + testSecret + "\n\t\tmax_token_size 8k", 4, `max_token_size "8k" is not a whole number of bytes`},
		{"cache_size zero", "secret " + testSecret + "\n\t\tcache_size 0", 4, `cache_size "0" is not a positive number of tokens or off`},
		{"cache_size huge", "secret " + testSecret + "\n\t\tcache_size 2000000", 4, "cache_size 2000000 is out of range"},
		{"cache_size twice", "secret " + testSecret + "\n\t\tcache_size off\n\t\tcache_size 5", 5, "cache_size"},
		{"token_type control char", "secret " + testSecret + "\n\t\ttoken_type \"a\tb\"", 4, "token_type must be off or the expected value"},
		{"forward_claim colon", "secret " + testSecret + "\n\t\tforward_claim sub X-User:Id", 4, `"X-User:Id" is not a valid header name`},
		{"forward_claim space", "secret " + testSecret + "\n\t\tforward_claim sub \"X User\"", 4, "is not a valid header name"},
		{"forward_claim one arg", "secret " + testSecret + "\n\t\tforward_claim sub", 4, "forward_claim takes a claim and a header name"},
		{"forward_claim reserved", "secret " + testSecret + "\n\t\tforward_claim sub Host", 4, "header Host cannot carry a claim"},
		{"forward_claim token source", "secret " + testSecret + "\n\t\tfrom_header X-Token\n\t\tforward_claim sub x-token", 5, "header X-Token is also a token source"},
		{"token source after forward_claim", "secret " + testSecret + "\n\t\tforward_claim sub X-Token\n\t\tfrom_header X-Token", 5, "is also a token source"},
		{"from_header bad name", "secret " + testSecret + "\n\t\tfrom_header Auth:x", 4, "is not a valid header name"},
		{"from_cookie two names", "secret " + testSecret + "\n\t\tfrom_cookie a b", 4, "from_cookie takes <name>, e.g. from_cookie access_token; got 2 values"},
		{"require without value", "secret " + testSecret + "\n\t\trequire scope", 4, "require takes a claim and at least one accepted value"},
		{"require empty claim", "secret " + testSecret + "\n\t\trequire \"\" x", 4, "require: the claim name must not be empty"},
		{"user_claim empty", "secret " + testSecret + "\n\t\tuser_claim sub \"\"", 4, "user_claim: a value must not be empty"},
		{"issuer empty", "secret " + testSecret + "\n\t\tissuer \"\"", 4, "issuer: a value must not be empty"},
		{"audience empty", "secret " + testSecret + "\n\t\taudience a \"\"", 4, "audience: a value must not be empty"},
		{"token_type empty", "secret " + testSecret + "\n\t\ttoken_type \"\"", 4, "token_type needs a value"},
		{"realm with quote", "secret " + testSecret + "\n\t\trealm \"a\\\"b\"", 4, "must be printable ASCII without quotes or backslashes"},
		{"optional with arg", "secret " + testSecret + "\n\t\toptional yes", 4, "optional takes no value; got 1 value"},
		{"unknown subdirective", "secret " + testSecret + "\n\t\tsecert x", 4, "unrecognized jwt_auth option 'secert'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expectAdaptError(t, ":8080 {\n\tjwt_auth {\n\t\t"+tt.body+"\n\t}\n\trespond ok\n}\n", tt.line, tt.want, testSecret)
		})
	}
}

// TestAdaptNeedsNoFiles: the parser reads tokens only, so a Caddyfile naming key files and
// secrets this machine does not have adapts, the placeholders and paths kept as written.
func TestAdaptNeedsNoFiles(t *testing.T) {
	missing := t.TempDir() + "/none"
	cfg, err := adapt(t, `:8080 {
	jwt_auth {
		secret {env.GATEHOUSE_TEST_UNSET_SECRET}
		public_key `+missing+`.pem
		jwks_file `+missing+`.json
		algorithms RS256
	}
	respond ok
}`)
	if err != nil {
		t.Fatalf("adapt read a file or an environment variable: %v", err)
	}
	got := jwtHandler(t, cfg)
	want := map[string]any{
		"handler":     "jwt_auth",
		"secret":      "{env.GATEHOUSE_TEST_UNSET_SECRET}",
		"public_keys": []any{missing + ".pem"},
		"jwks_files":  []any{missing + ".json"},
		"algorithms":  []any{"RS256"},
		"source":      "Caddyfile:2",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// provisionAdaptedAuth adapts caddyfile, which must succeed, and provisions its one jwt_auth as
// Caddy loads the adapted JSON (caddy validate, caddy run), returning the error.
func provisionAdaptedAuth(t *testing.T, caddyfile string) error {
	t.Helper()
	cfg, err := adapt(t, caddyfile)
	if err != nil {
		t.Fatalf("adapt: %v", err)
	}
	h := jwtHandler(t, cfg)
	delete(h, "handler")
	raw, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	var j JWTAuth
	if err := json.Unmarshal(raw, &j); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	err = provisionIn(ctx, &j)
	if err == nil {
		_ = j.Cleanup()
	}
	return err
}

// expectLoadError checks that err is a provisioning error placed at Caddyfile:line (the
// directive's), that contains want, and that mentions none of secrets.
func expectLoadError(t *testing.T, err error, line int, want string, secrets ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("provisioned without error")
	}
	msg := err.Error()
	if at := fmt.Sprintf("Caddyfile:%d: ", line); !strings.HasPrefix(msg, at) {
		t.Errorf("error %q does not start with %q", msg, at)
	}
	if !strings.Contains(msg, want) {
		t.Errorf("error %q\nwant it to contain %q", msg, want)
	}
	for _, s := range secrets {
		if strings.Contains(msg, s) {
			t.Error("error message contains a secret or a hash")
		}
	}
}

// TestProvisionErrorsAtDirective: what only the files and the environment can tell (a missing
// or bad key file, a secret placeholder that does not resolve or is too short, a key the
// algorithms exclude) adapts, and fails when the configuration is loaded, with the jwt_auth
// directive's Caddyfile line and a message that says what to fix.
func TestProvisionErrorsAtDirective(t *testing.T) {
	dir := t.TempDir()
	rsaKey, weak := testRSA(t)
	goodPEM := writeFile(t, dir, "rsa.pem", pemPublic(t, &rsaKey.PublicKey))
	weakPEM := writeFile(t, dir, "weak.pem", pemPublic(t, &weak.PublicKey))
	junkPEM := writeFile(t, dir, "junk.pem", []byte("hello"))
	ecPEM := writeFile(t, dir, "ec.pem", pemPublic(t, &testEC(t).PublicKey))
	privPEM := writeFile(t, dir, "private.pem", privatePEM(t))
	badJWKS := writeFile(t, dir, "bad.json", []byte(`{"kty":"EC"}`))
	missing := dir + "/nope.pem"
	t.Setenv("GATEHOUSE_TEST_SHORT", "short")

	tests := []struct {
		name string
		body string // the lines inside jwt_auth { }, the directive being on Caddyfile line 3
		want string
	}{
		{"unset secret variable", "secret {env.GATEHOUSE_TEST_UNSET_SECRET}", "secret {env.GATEHOUSE_TEST_UNSET_SECRET}: the environment variable GATEHOUSE_TEST_UNSET_SECRET is not set"},
		{"short secret from env", "secret {env.GATEHOUSE_TEST_SHORT}", "HMAC needs at least 32"},
		{"missing secret file", "secret {file." + dir + "/none}", "secret {file." + dir + "/none}: the file " + dir + "/none cannot be read: no such file or directory"},
		{"unreadable PEM", "public_key " + missing, "public_key " + missing + ": cannot read the file: no such file or directory"},
		{"malformed PEM", "public_key " + junkPEM, "public_key " + junkPEM + ": not a PEM file"},
		{"private key PEM", "public_key " + privPEM, "supply the public key instead"},
		{"weak RSA", "public_key " + weakPEM, "RSA key is 1024 bits; at least 2048 are required"},
		{"malformed JWKS", "jwks_file " + badJWKS, "jwks_file " + badJWKS + ": this is a single JWK"},
		{"unreadable JWKS", "jwks_file " + dir + "/none.json", "jwks_file " + dir + "/none.json: cannot read the file"},
		{"algorithms exclude the key", "public_key " + ecPEM + "\n\t\talgorithms RS256",
			"public_key " + ecPEM + ": no key allows any of the configured algorithms (RS256)"},
		{"key after algorithms", "algorithms RS256\n\t\tpublic_key " + goodPEM + "\n\t\tpublic_key " + ecPEM,
			"public_key " + ecPEM + ": no key allows any of the configured algorithms (RS256); the keys support: ES256; add the key's algorithm to algorithms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Line 3: a site block and a respond before the directive, so the line is not 1 or 2 by chance.
			err := provisionAdaptedAuth(t, ":8080 {\n\trespond /x ok\n\tjwt_auth {\n\t\t"+tt.body+"\n\t}\n\trespond ok\n}\n")
			expectLoadError(t, err, 3, tt.want, testSecret, "short\"")
		})
	}
}
