package caddyauth

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

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
	want := map[string]any{"handler": "jwt_auth", "secret": testSecret}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
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
		body string // the lines inside jwt_auth { }, starting at Caddyfile line 3
		line int
		want string
	}{
		{"short secret", "secret tooshort", 3, "secret is 8 bytes; HMAC needs at least 32 (generate one with: openssl rand -base64 48)"},
		{"short secret from env", "secret {env.GATEHOUSE_TEST_SHORT}", 3, "HMAC needs at least 32"},
		{"secret without value", "secret", 3, "wrong argument count"},
		{"secret twice", "secret " + testSecret + "\n\t\tsecret " + testSecret, 4, "secret is already set"},
		{"unreadable PEM", "public_key " + missing, 3, "public_key " + missing + ": cannot read the file: no such file or directory"},
		{"malformed PEM", "public_key " + junkPEM, 3, "public_key " + junkPEM + ": not a PEM file"},
		{"private key PEM", "public_key " + privPEM, 3, "supply the public key instead"},
		{"weak RSA", "public_key " + weakPEM, 3, "RSA key is 1024 bits; at least 2048 are required"},
		{"malformed JWKS", "jwks_file " + badJWKS, 3, "jwks_file " + badJWKS + ": this is a single JWK"},
		{"unreadable JWKS", "jwks_file " + dir + "/none.json", 3, "cannot read the file"},
		{"unknown algorithm", "secret " + testSecret + "\n\t\talgorithms HS256 RS257", 4, `unknown algorithm "RS257"; supported (case-sensitive)`},
		{"none", "secret " + testSecret + "\n\t\talgorithms none", 4, `algorithm "none" is never accepted`},
		{"algorithms exclude the key", "public_key " + ecPEM + "\n\t\talgorithms RS256", 4, "public_key " + ecPEM + ": no key allows any of the configured algorithms (RS256)"},
		{"key after algorithms", "algorithms RS256\n\t\tpublic_key " + goodPEM + "\n\t\tpublic_key " + ecPEM, 5, "add the key's algorithm to algorithms"},
		{"leeway too long", "secret " + testSecret + "\n\t\tleeway 6m", 4, "leeway 6m0s is out of range; use a duration from 0 to 5m0s"},
		{"leeway not a duration", "secret " + testSecret + "\n\t\tleeway soon", 4, `leeway "soon" is not a duration`},
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
		{"from_cookie two names", "secret " + testSecret + "\n\t\tfrom_cookie a b", 4, "wrong argument count"},
		{"require without value", "secret " + testSecret + "\n\t\trequire scope", 4, "require takes a claim and at least one accepted value"},
		{"require empty claim", "secret " + testSecret + "\n\t\trequire \"\" x", 4, "require: the claim name must not be empty"},
		{"user_claim empty", "secret " + testSecret + "\n\t\tuser_claim sub \"\"", 4, "user_claim: a value must not be empty"},
		{"issuer empty", "secret " + testSecret + "\n\t\tissuer \"\"", 4, "issuer: a value must not be empty"},
		{"audience empty", "secret " + testSecret + "\n\t\taudience a \"\"", 4, "audience: a value must not be empty"},
		{"token_type empty", "secret " + testSecret + "\n\t\ttoken_type \"\"", 4, "token_type needs a value"},
		{"realm with quote", "secret " + testSecret + "\n\t\trealm \"a\\\"b\"", 4, "must be printable ASCII without quotes or backslashes"},
		{"optional with arg", "secret " + testSecret + "\n\t\toptional yes", 4, "wrong argument count"},
		{"unknown subdirective", "secret " + testSecret + "\n\t\tsecert x", 4, "unrecognized jwt_auth option 'secert'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expectAdaptError(t, ":8080 {\n\tjwt_auth {\n\t\t"+tt.body+"\n\t}\n\trespond ok\n}\n", tt.line, tt.want, testSecret)
		})
	}
}
