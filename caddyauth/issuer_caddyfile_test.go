package caddyauth

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// issuerHandler returns the one jwt_issuer handler of the adapted config and the matchers of
// the route holding it.
func issuerHandler(t *testing.T, config []byte) map[string]any {
	t.Helper()
	var found []map[string]any
	for _, h := range handlers(t, config) {
		if h["handler"] == "jwt_issuer" {
			found = append(found, h)
		}
	}
	if len(found) != 1 {
		t.Fatalf("found %d jwt_issuer handlers in\n%s", len(found), config)
	}
	return found[0]
}

// rawIssuerHandler returns the first jwt_issuer handler of the adapted config as JSON, numbers
// unchanged, without its "handler" member.
func rawIssuerHandler(t *testing.T, config []byte) []byte {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(config))
	dec.UseNumber()
	var root any
	if err := dec.Decode(&root); err != nil {
		t.Fatal(err)
	}
	var find func(v any) map[string]any
	find = func(v any) map[string]any {
		switch v := v.(type) {
		case map[string]any:
			if v["handler"] == "jwt_issuer" {
				return v
			}
			for _, e := range v {
				if h := find(e); h != nil {
					return h
				}
			}
		case []any:
			for _, e := range v {
				if h := find(e); h != nil {
					return h
				}
			}
		}
		return nil
	}
	h := find(root)
	delete(h, "handler")
	out, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAdaptIssuerFull checks that every subdirective lands in its JSON field.
func TestAdaptIssuerFull(t *testing.T) {
	dir := t.TempDir()
	usersFile := writeFile(t, dir, "users", []byte("bob:"+bobHash+"\n"))
	keyPEM := writeFile(t, dir, "key.pem", privatePEM(t))
	t.Setenv("GATEHOUSE_TEST_SECRET", testSecret)

	tests := []struct {
		name string
		body string
		want map[string]any
	}{
		{"everything", `
		users_file ` + usersFile + `
		user alice ` + aliceHash + ` {
			claim user_id 7
			claim roles admin editor
			claim team blue
			claim zip 007
			claim big 123456789012345678901234567890
			claim neg -3
			claim safe 9007199254740991
			claim admin true
			claim beta false
			claim text "true"
			claim code "7"
			claim ids 1 2 "3" 007
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
		login_limit 5 per 30s per_user 80
		realm shop`, map[string]any{
			"handler":    "jwt_issuer",
			"users_file": usersFile,
			"users": []any{
				map[string]any{"name": "alice", "hash": aliceHash, "claims": map[string]any{
					"user_id": float64(7), "roles": []any{"admin", "editor"}, "team": "blue", "zip": "007",
					"big": "123456789012345678901234567890", "neg": float64(-3), "safe": float64(9007199254740991),
					"admin": true, "beta": false, "text": "true", "code": "7", "ids": []any{float64(1), float64(2), "3", "007"},
				}},
				map[string]any{"name": "carol", "hash": carolHash},
			},
			"signing_key":    map[string]any{"source": "auto", "alg": "EdDSA"},
			"issuer":         "https://gatehouse.test",
			"audiences":      []any{"shop", "admin", "extra"},
			"access_ttl":     float64(2 * 60 * 1e9),
			"refresh_ttl":    float64(12 * 3600 * 1e9),
			"rotate_refresh": true,
			"rotate_keys":    float64(720 * 3600 * 1e9),
			"user_id_claim":  "user_id",
			"login_limit":    map[string]any{"attempts": float64(5), "per": float64(30e9), "per_user": float64(80)},
			"base_path":      "/api/token",
			"realm":          "shop",
			"source":         "Caddyfile:2",
		}},
		{"credentials_url, key file, limit off", `
		credentials_url https://app.example/auth/check
		signing_key file ` + keyPEM + `
		login_limit off`, map[string]any{
			"handler":         "jwt_issuer",
			"credentials_url": "https://app.example/auth/check",
			"signing_key":     map[string]any{"source": "file", "file": keyPEM},
			"login_limit":     map[string]any{"off": true},
			"base_path":       "/api/token",
			"source":          "Caddyfile:2",
		}},
		{"secret placeholder kept", `
		user bob ` + bobHash + `
		signing_key secret {env.GATEHOUSE_TEST_SECRET}`, map[string]any{
			"handler":     "jwt_issuer",
			"users":       []any{map[string]any{"name": "bob", "hash": bobHash}},
			"signing_key": map[string]any{"source": "secret", "secret": "{env.GATEHOUSE_TEST_SECRET}"},
			"base_path":   "/api/token",
			"source":      "Caddyfile:2",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := adapt(t, ":8080 {\n\tjwt_issuer /api/token/* {"+tt.body+"\n\t}\n}\n")
			if err != nil {
				t.Fatal(err)
			}
			if got := issuerHandler(t, cfg); !reflect.DeepEqual(got, tt.want) {
				a, _ := json.MarshalIndent(got, "", "  ")
				b, _ := json.MarshalIndent(tt.want, "", "  ")
				t.Errorf("jwt_issuer JSON\n%s\nwant\n%s", a, b)
			}
			if strings.Contains(string(cfg), testSecret) {
				t.Error("the resolved secret leaked into the JSON")
			}
		})
	}
}

// TestAdaptIssuerRoundTrip: the adapted JSON loads back into the module unchanged and valid, so
// `caddy adapt` output can be run as a JSON config.
func TestAdaptIssuerRoundTrip(t *testing.T) {
	cfg, err := adapt(t, `:8080 {
	jwt_issuer /auth/* {
		user alice `+aliceHash+` {
			claim user_id 12345678901234567890
			claim n 9007199254740991
			claim roles admin editor
		}
		signing_key secret `+testSecret+`
		audience a b
		access_ttl 1m
		login_limit 3 per 1h
	}
}`)
	if err != nil {
		t.Fatal(err)
	}
	issuerHandler(t, cfg) // exactly one
	raw := rawIssuerHandler(t, cfg)
	var j JWTIssuer
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		t.Fatalf("adapted JSON does not load: %v\n%s", err, raw)
	}
	if err := j.Validate(); err != nil {
		t.Fatalf("adapted JSON does not validate: %v", err)
	}
	again, _ := json.Marshal(&j)
	var a, b any
	_ = json.Unmarshal(raw, &a)
	_ = json.Unmarshal(again, &b)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("round trip changed the JSON\n%s\n%s", raw, again)
	}
	provisionIssuer(t, &j, nil)
	access, _ := pair(t, login(t, &j, "/auth", "alice", "alice-pw", ""))
	c := jwtPart(t, access, 1)
	if got := c["user_id"]; got != "12345678901234567890" {
		t.Errorf("user_id %#v, want every digit of 12345678901234567890 (a string: beyond 2^53)", got)
	}
	if got := c["n"]; got != json.Number("9007199254740991") {
		t.Errorf("n %#v, want the number 9007199254740991", got)
	}
}

// TestAdaptIssuerBasePath: the base path comes from a single path matcher, explicit base_path
// wins, and under handle_path or without a path matcher the endpoints are at the root.
func TestAdaptIssuerBasePath(t *testing.T) {
	user := "\t\tuser bob " + bobHash + "\n"
	tests := []struct {
		name      string
		caddyfile string
		want      any // nil: no base_path in the JSON
		matcher   bool
	}{
		{"path/*", "jwt_issuer /api/token/* {\n" + user + "\t}", "/api/token", true},
		{"path*", "jwt_issuer /api/token* {\n" + user + "\t}", "/api/token", true},
		{"exact path", "jwt_issuer /api/token/ {\n" + user + "\t}", "/api/token", true},
		{"named single path", "@tok path /auth/jwt/*\n\tjwt_issuer @tok {\n" + user + "\t}", "/auth/jwt", true},
		{"named path and method", "@tok {\n\t\tpath /auth/*\n\t\tmethod POST\n\t}\n\tjwt_issuer @tok {\n" + user + "\t}", nil, true},
		{"two paths", "@tok path /a/* /b/*\n\tjwt_issuer @tok {\n" + user + "\t}", nil, true},
		{"no matcher", "jwt_issuer {\n" + user + "\t}", nil, false},
		{"explicit", "jwt_issuer /api/token/* {\n" + user + "\t\tbase_path /api\n\t}", "/api", true},
		{"handle_path", "handle_path /api/token/* {\n\t\tjwt_issuer {\n\t" + user + "\t\t}\n\t}", nil, false},
		{"handle", "handle /api/token/* {\n\t\tjwt_issuer /api/token/* {\n\t" + user + "\t\t}\n\t}", "/api/token", true},
		{"route", "route {\n\t\tjwt_issuer /x/* {\n\t" + user + "\t\t}\n\t}", "/x", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := adapt(t, ":8080 {\n\t"+tt.caddyfile+"\n}\n")
			if err != nil {
				t.Fatal(err)
			}
			h := issuerHandler(t, cfg)
			if got := h["base_path"]; got != tt.want {
				t.Errorf("base_path %v, want %v", got, tt.want)
			}
		})
	}
}

// TestAdaptIssuerOrder: with no `order` option, jwt_issuer runs before jwt_auth (a login must
// not need a token) and before the handlers that answer; route keeps the written order.
func TestAdaptIssuerOrder(t *testing.T) {
	issuer := "jwt_issuer /api/token/* {\n\t\tuser bob " + bobHash + "\n\t}"
	tests := []struct {
		name      string
		caddyfile string
		want      []string
	}{
		{"site", `:8080 {
	reverse_proxy 127.0.0.1:9000
	jwt_auth
	` + issuer + `
	basic_auth /admin/* {
		alice ` + aliceHash + `
	}
}`, []string{"authentication", "jwt_issuer", "jwt_auth", "reverse_proxy"}},
		{"route keeps written order", `:8080 {
	route {
		jwt_auth
		` + issuer + `
	}
}`, []string{"subroute", "jwt_auth", "jwt_issuer"}},
		{"handle", `:8080 {
	handle /api/* {
		respond "ok"
		` + issuer + `
	}
}`, []string{"subroute", "jwt_issuer", "static_response"}},
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

// TestAdaptZeroConfigJWTAuth: a jwt_auth with no key settings adapts to an empty handler,
// which trusts the jwt_issuer of the same Caddy.
func TestAdaptZeroConfigJWTAuth(t *testing.T) {
	cfg, err := adapt(t, ":8080 {\n\tjwt_auth {\n\t\tissuer https://gatehouse.test\n\t}\n\trespond ok\n}\n")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"handler": "jwt_auth", "issuers": []any{"https://gatehouse.test"}, "source": "Caddyfile:2"}
	if got := jwtHandler(t, cfg); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestAdaptIssuerErrors checks that each config mistake is reported at its Caddyfile line with a
// message that says what to fix.
func TestAdaptIssuerErrors(t *testing.T) {
	usersFile := writeFile(t, t.TempDir(), "users", []byte("bob:"+bobHash+"\n"))
	user := "user bob " + bobHash + "\n\t\t"

	tests := []struct {
		name    string
		matcher string
		body    string // the lines inside jwt_issuer { }, starting at Caddyfile line 3
		line    int
		want    string
	}{
		{"no users", "", "issuer x", 2, "jwt_issuer needs users: set users_file, user or credentials_url"},
		{"users and credentials_url", "", user + "credentials_url https://app.example/check", 4, "credentials_url cannot be combined with users_file or user"},
		{"empty users file", "", `users_file ""`, 3, "users_file: the file name must not be empty"},
		{"users_file twice", "", "users_file " + usersFile + "\n\t\tusers_file " + usersFile, 4, "users_file is already set"},
		{"user without hash", "", "user bob", 3, "user takes a name and a password hash"},
		{"user plaintext", "", "user bob secret123", 3, "unknown password hash format; use bcrypt"},
		{"user bad bcrypt", "", "user bob $2a$04$short", 3, "bcrypt hash is not 60 characters"},
		{"user twice", "", user + user, 4, `user "bob" is configured twice`},
		{"claim without value", "", "user bob " + bobHash + " {\n\t\t\tclaim user_id\n\t\t}", 4, "claim takes a name and at least one value"},
		{"reserved claim", "", "user bob " + bobHash + " {\n\t\t\tclaim exp 1\n\t\t}", 4, "claim exp is set by the issuer itself"},
		{"claim case twin", "", "user bob " + bobHash + " {\n\t\t\tclaim Role a\n\t\t\tclaim role b\n\t\t}", 5, "claim role is already set for user bob"},
		{"unknown user option", "", "user bob " + bobHash + " {\n\t\t\tclaims x y\n\t\t}", 4, "unrecognized user option 'claims'"},
		{"credentials_url scheme", "", "credentials_url ftp://app.example/check", 3, "must start with https://"},
		{"credentials_url plain http", "", "credentials_url http://app.example/check", 3, "credentials_url: the credentials URL must use https"},
		{"credentials_url plain http to a LAN address", "", "credentials_url http://192.168.1.20:8000/check", 3, "http is allowed only to a loopback host (127.0.0.1, ::1, localhost)"},
		{"credentials_url host", "", "credentials_url https:///check", 3, "has no host"},
		{"store without backend", "", user + "store", 4, "store takes a backend and its address"},
		{"store other backend", "", user + "store etcd http://127.0.0.1:2379", 4, "store takes a backend and its address"},
		{"store redis cleartext", "", user + "store redis redis://cache.example:6379/0", 4, "plain redis:// is allowed only to a loopback host"},
		{"store redis twice", "", user + "store redis redis://127.0.0.1:6379\n\t\tstore redis redis://127.0.0.1:6380", 5, "store is already set"},
		{"store prefix braces", "", user + "store redis redis://127.0.0.1:6379 {\n\t\t\tprefix {x}\n\t\t}", 5, "must not contain braces"},
		{"store unknown option", "", user + "store redis redis://127.0.0.1:6379 {\n\t\t\tdb 2\n\t\t}", 5, "unrecognized store option 'db'"},
		{"signing_key none", "", user + "signing_key", 4, "signing_key takes auto"},
		{"signing_key unknown", "", user + "signing_key vault x", 4, `signing_key "vault" is unknown`},
		{"auto alg", "", user + "signing_key auto HS256", 4, `signing_key auto cannot generate "HS256" keys`},
		{"auto extra", "", user + "signing_key auto ES256 x", 4, "signing_key auto takes at most the algorithm, e.g. signing_key auto EdDSA; got 2 values"},
		{"file empty", "", user + `signing_key file ""`, 4, "signing_key file: the file name must not be empty"},
		{"short secret", "", user + "signing_key secret tooshort", 4, "HMAC needs at least 32"},
		{"login_page empty", "/api/token/*", user + "session {\n\t\t\tlogin_page \"\"\n\t\t}", 5, "session login_page: the file name must not be empty"},
		{"signing_key twice", "", user + "signing_key auto\n\t\tsigning_key auto", 5, "signing_key is already set"},
		{"issuer two values", "", user + "issuer a b", 4, "issuer takes one value"},
		{"access_ttl", "", user + "access_ttl soon", 4, `access_ttl "soon" is not a duration`},
		{"access_ttl zero", "", user + "access_ttl 0s", 4, "access_ttl must be positive"},
		{"refresh_ttl huge", "", user + "refresh_ttl 10000h", 4, "refresh_ttl 10000h0m0s is out of range"},
		{"rotate_refresh arg", "", user + "rotate_refresh yes", 4, "rotate_refresh takes no value; got 1 value"},
		{"rotate_keys with secret", "", user + "rotate_keys 720h\n\t\tsigning_key secret " + testSecret, 4, "rotate_keys works only with signing_key auto"},
		{"rotate_keys too often", "", user + "rotate_keys 10m", 4, "would keep"},
		{"rotate_keys too often for refresh_ttl", "", user + "rotate_keys 1h\n\t\trefresh_ttl 720h", 4, "would keep"},
		{"rotate_keys negative", "", user + "rotate_keys -1h", 4, "rotate_keys must be a positive interval"},
		{"user_id_claim reserved", "", user + "user_id_claim jti", 4, "claim jti is set by the issuer itself"},
		{"user_id_claim case", "", "user bob " + bobHash + " {\n\t\t\tclaim User_ID 3\n\t\t}\n\t\tuser_id_claim user_id", 6, "differs from user_id_claim user_id only in case"},
		{"login_limit syntax", "", user + "login_limit 5 every 1m", 4, "login_limit takes <n> per <duration> [per_user <m>] or off"},
		{"login_limit per_user syntax", "", user + "login_limit 5 per 1m per_ip 50", 4, "login_limit takes <n> per <duration> [per_user <m>] or off"},
		{"login_limit per_user missing", "", user + "login_limit 5 per 1m per_user", 4, "login_limit takes <n> per <duration> [per_user <m>] or off"},
		{"login_limit per_user zero", "", user + "login_limit 5 per 1m per_user 0", 4, `login_limit per_user "0" is not a positive number`},
		{"login_limit per_user below attempts", "", user + "login_limit 5 per 1m per_user 4", 4, "login_limit per_user 4 is below the 5 attempts per address: one address could then lock the user out"},
		{"login_limit zero", "", user + "login_limit 0 per 1m", 4, `login_limit "0" is not a positive number`},
		{"login_limit window", "", user + "login_limit 5 per 1ms", 4, "login_limit per 1ms is out of range"},
		{"base_path slash", "", user + "base_path /api/", 4, "must be a clean absolute path"},
		{"realm quote", "", user + "realm \"a\\\"b\"", 4, "must be printable ASCII without quotes"},
		{"unknown option", "", user + "rotate_tokens", 4, "unrecognized jwt_issuer option 'rotate_tokens'"},
		{"argument", "", "", 2, "jwt_issuer takes at most a matcher and a name before its block, e.g. jwt_issuer /api/token/* shop; got 2 values after the matcher"},
		{"name argument", "", "", 2, `name "Shop" must be 1 to 64 lowercase letters`},
		{"wildcard matcher path", "/api/*/token", user, 2, `cannot take base_path from the path matcher "/api/*/token"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			head := "jwt_issuer " + tt.matcher + " {"
			switch tt.name {
			case "argument":
				head = "jwt_issuer /a/* one two {\n\t\tuser bob " + bobHash
			case "name argument":
				head = "jwt_issuer /a/* Shop {\n\t\tuser bob " + bobHash
			}
			expectAdaptError(t, ":8080 {\n\t"+head+"\n\t\t"+tt.body+"\n\t}\n}\n", tt.line, tt.want, testSecret, bobHash)
		})
	}
}

// TestAdaptIssuerNeedsNoFiles: the parser reads tokens only, so a jwt_issuer naming a users
// file, a signing key file, a login page and a secret this machine does not have adapts, the
// paths and the placeholder kept as written.
func TestAdaptIssuerNeedsNoFiles(t *testing.T) {
	missing := t.TempDir() + "/none"
	for _, tt := range []struct{ body, member string }{
		{"users_file " + missing + "\n\t\tsigning_key file " + missing + ".pem\n\t\tsession {\n\t\t\tlogin_page " + missing + ".html\n\t\t}", "users_file"},
		{"user bob " + bobHash + "\n\t\tsigning_key secret {env.GATEHOUSE_TEST_UNSET_SECRET}", "signing_key"},
		{"user bob " + bobHash + "\n\t\tsigning_key secret {file." + missing + "}", "signing_key"},
	} {
		cfg, err := adapt(t, ":8080 {\n\tjwt_issuer /api/token/* {\n\t\t"+tt.body+"\n\t}\n}\n")
		if err != nil {
			t.Fatalf("adapt read a file or an environment variable: %v", err)
		}
		h := issuerHandler(t, cfg)
		if h[tt.member] == nil || h["source"] != "Caddyfile:2" {
			t.Errorf("%s or source missing in %v", tt.member, h)
		}
	}
}

// provisionAdaptedIssuer adapts caddyfile, which must succeed, and provisions its one
// jwt_issuer as Caddy loads the adapted JSON (on a storage in memory), returning the error.
func provisionAdaptedIssuer(t *testing.T, caddyfile string) error {
	t.Helper()
	cfg, err := adapt(t, caddyfile)
	if err != nil {
		t.Fatalf("adapt: %v", err)
	}
	issuerHandler(t, cfg) // exactly one
	var j JWTIssuer
	dec := json.NewDecoder(bytes.NewReader(rawIssuerHandler(t, cfg)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		t.Fatal(err)
	}
	err = provisionIssuerIn(&j, nil)
	if err == nil {
		_ = j.Cleanup()
	}
	return err
}

// TestIssuerProvisionErrorsAtDirective: a users file, signing key file or login page that is
// missing or bad, and a secret placeholder that does not resolve or is too short, fail when
// the configuration is loaded, with the jwt_issuer directive's Caddyfile line.
func TestIssuerProvisionErrorsAtDirective(t *testing.T) {
	dir := t.TempDir()
	publicPEM := writeFile(t, dir, "public.pem", pemPublic(t, &testEC(t).PublicKey))
	badPage := writeFile(t, dir, "bad.html", []byte(`{{.Action`))
	t.Setenv("GATEHOUSE_TEST_SHORT", "short")
	user := "user bob " + bobHash + "\n\t\t"

	tests := []struct {
		name string
		body string // the lines inside jwt_issuer { }, the directive being on Caddyfile line 3
		want string
	}{
		{"missing users file", "users_file " + dir + "/none", "cannot open the users file"},
		{"signing key file is a public key", user + "signing_key file " + publicPEM, "signing_key file " + publicPEM},
		{"missing signing key file", user + "signing_key file " + dir + "/none.pem", "signing_key file " + dir + "/none.pem: cannot read the file: no such file or directory"},
		{"short secret from env", user + "signing_key secret {env.GATEHOUSE_TEST_SHORT}", "HMAC needs at least 32"},
		{"unset secret variable", user + "signing_key secret {env.GATEHOUSE_TEST_UNSET_SECRET}", "{env.GATEHOUSE_TEST_UNSET_SECRET}"},
		{"missing login page", user + "session {\n\t\t\tlogin_page " + dir + "/none.html\n\t\t}", "session login_page: open " + dir + "/none.html"},
		{"bad login page", user + "session {\n\t\t\tlogin_page " + badPage + "\n\t\t}", "session login_page " + badPage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := provisionAdaptedIssuer(t, ":8080 {\n\trespond /x ok\n\tjwt_issuer /api/token/* {\n\t\t"+tt.body+"\n\t}\n}\n")
			expectLoadError(t, err, 3, tt.want, testSecret, bobHash, "short\"")
		})
	}
}

// TestAdaptIssuerStore: `store redis` adapts to the store object, its URL kept as written (a
// placeholder is resolved at provision, on the server that has the variable).
func TestAdaptIssuerStore(t *testing.T) {
	for _, tt := range []struct{ body, want string }{
		{"store redis {env.REDIS_URL}", `{"redis":"{env.REDIS_URL}"}`},
		{"store redis rediss://cache.example:6380/2 {\n\t\t\tprefix shop\n\t\t}", `{"prefix":"shop","redis":"rediss://cache.example:6380/2"}`},
	} {
		cfg, err := adapt(t, ":8080 {\n\tjwt_issuer /api/token/* {\n\t\tuser bob "+bobHash+"\n\t\t"+tt.body+"\n\t}\n}\n")
		if err != nil {
			t.Fatalf("%s: %v", tt.body, err)
		}
		got, err := json.Marshal(issuerHandler(t, cfg)["store"])
		if err != nil || string(got) != tt.want {
			t.Errorf("%s: store %s, want %s", tt.body, got, tt.want)
		}
	}
}
