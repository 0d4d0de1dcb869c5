package caddyauth

import (
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/gatehouse-dev/gatehouse/internal/keys"
)

// TestCaddyfileErrorMessages pins the whole text of the Caddyfile errors a user meets most, each
// with its file:line: an option given the wrong number of values says what it takes with an
// example; an unknown option names the nearest valid one, or the directive that has it, or the
// options there are; a mistake of a whole block is reported at the block's opening line.
func TestCaddyfileErrorMessages(t *testing.T) {
	user := "user bob " + bobHash
	tests := []struct {
		name      string
		caddyfile string
		want      string
	}{
		{"access_ttl of two words",
			":8080 {\n\tjwt_issuer /api/token/* {\n\t\t" + user + "\n\t\taccess_ttl 5 minutes\n\t}\n}\n",
			"parsing caddyfile tokens for 'jwt_issuer': access_ttl takes <duration>, e.g. access_ttl 5m; got 2 values, at Caddyfile:4"},
		{"secret without value",
			":8080 {\n\tjwt_auth {\n\t\tsecret\n\t}\n}\n",
			"parsing caddyfile tokens for 'jwt_auth': secret takes <secret>, e.g. secret {env.JWT_SECRET}; got no value, at Caddyfile:3"},
		{"users_file of two paths",
			":8080 {\n\tjwt_issuer /api/token/* {\n\t\tusers_file /a /b\n\t}\n}\n",
			"parsing caddyfile tokens for 'jwt_issuer': users_file takes <path>, e.g. users_file /etc/caddy/users; got 2 values, at Caddyfile:3"},
		{"cors max_age without value",
			":8080 {\n\tjwt_auth {\n\t\tsecret {env.S}\n\t\tcors {\n\t\t\tmax_age\n\t\t}\n\t}\n}\n",
			"parsing caddyfile tokens for 'jwt_auth': max_age takes <duration>, e.g. max_age 10m; got no value, at Caddyfile:5"},
		{"jwt_auth with a value",
			":8080 {\n\tjwt_auth api {\n\t\tsecret {env.S}\n\t}\n}\n",
			"parsing caddyfile tokens for 'jwt_auth': jwt_auth takes at most a matcher before its block, e.g. jwt_auth /api/* { secret {env.JWT_SECRET} }; got 1 value, at Caddyfile:2"},
		{"gatehouse with a value",
			"{\n\tgatehouse home {\n\t}\n}\n:8080 {\n\trespond ok\n}\n",
			"parsing caddyfile tokens for 'gatehouse': gatehouse takes no value, only a block, e.g. gatehouse { issuer home { users_file /etc/caddy/users } }; got 1 value, at Caddyfile:2"},
		{"jwt_issuer option misspelt",
			":8080 {\n\tjwt_issuer /api/token/* {\n\t\t" + user + "\n\t\tacess_ttl 5m\n\t}\n}\n",
			"parsing caddyfile tokens for 'jwt_issuer': unrecognized jwt_issuer option 'acess_ttl'; did you mean access_ttl?, at Caddyfile:4"},
		{"jwt_auth option misspelt",
			":8080 {\n\tjwt_auth {\n\t\tjwks_uri https://idp.example/jwks.json\n\t}\n}\n",
			"parsing caddyfile tokens for 'jwt_auth': unrecognized jwt_auth option 'jwks_uri'; did you mean jwks_url?, at Caddyfile:3"},
		{"jwt_auth option in capitals",
			":8080 {\n\tjwt_auth {\n\t\tSecret {env.S}\n\t}\n}\n",
			"parsing caddyfile tokens for 'jwt_auth': unrecognized jwt_auth option 'Secret'; did you mean secret?, at Caddyfile:3"},
		{"jwt_issuer option in jwt_auth",
			":8080 {\n\tjwt_auth {\n\t\tusers_file /etc/caddy/users\n\t}\n}\n",
			"parsing caddyfile tokens for 'jwt_auth': unrecognized jwt_auth option 'users_file': users_file is an option of jwt_issuer, not of jwt_auth, at Caddyfile:3"},
		{"unknown store option far from any",
			":8080 {\n\tjwt_issuer /api/token/* {\n\t\t" + user + "\n\t\tstore redis redis://127.0.0.1:6379/0 {\n\t\t\tfrobnicate yes\n\t\t}\n\t}\n}\n",
			"parsing caddyfile tokens for 'jwt_issuer': unrecognized store option 'frobnicate'; use prefix, at Caddyfile:5"},
		{"session option misspelt",
			":8080 {\n\tjwt_issuer /api/token/* {\n\t\t" + user + "\n\t\tsession {\n\t\t\tlogin_pgae /x.html\n\t\t}\n\t}\n}\n",
			"parsing caddyfile tokens for 'jwt_issuer': unrecognized session option 'login_pgae'; did you mean login_page?, at Caddyfile:5"},
		{"store option misspelt",
			":8080 {\n\tjwt_issuer /api/token/* {\n\t\t" + user + "\n\t\tstore redis redis://127.0.0.1:6379/0 {\n\t\t\tprefx shop\n\t\t}\n\t}\n}\n",
			"parsing caddyfile tokens for 'jwt_issuer': unrecognized store option 'prefx'; did you mean prefix?, at Caddyfile:5"},
		{"cors option misspelt",
			":8080 {\n\tjwt_issuer /api/token/* {\n\t\t" + user + "\n\t\tcors {\n\t\t\torigin https://app.example\n\t\t}\n\t}\n}\n",
			"parsing caddyfile tokens for 'jwt_issuer': unrecognized cors option 'origin'; did you mean origins?, at Caddyfile:5"},
		{"user option misspelt",
			":8080 {\n\tjwt_issuer /api/token/* {\n\t\t" + user + " {\n\t\t\tclaims roles admin\n\t\t}\n\t}\n}\n",
			"parsing caddyfile tokens for 'jwt_issuer': unrecognized user option 'claims'; did you mean claim?, at Caddyfile:4"},
		{"jwt_forward_auth option misspelt",
			":8080 {\n\tjwt_forward_auth {\n\t\tsecret {env.S}\n\t\tuser_headr X-User\n\t}\n}\n",
			"parsing caddyfile tokens for 'jwt_forward_auth': unrecognized jwt_forward_auth option 'user_headr'; did you mean user_header?, at Caddyfile:4"},
		{"jwt_forward_auth's jwt_auth option misspelt",
			":8080 {\n\tjwt_forward_auth {\n\t\tsecrte {env.S}\n\t}\n}\n",
			"parsing caddyfile tokens for 'jwt_forward_auth': unrecognized jwt_forward_auth option 'secrte'; did you mean secret?, at Caddyfile:3"},
		{"route option misspelt",
			":8080 {\n\tjwt_forward_auth {\n\t\tsecret {env.S}\n\t\troute git.example {\n\t\t\trequires groups git\n\t\t}\n\t}\n}\n",
			"parsing caddyfile tokens for 'jwt_forward_auth': unrecognized route option 'requires'; did you mean require?, at Caddyfile:5"},
		{"gatehouse option misspelt",
			"{\n\tgatehouse {\n\t\tissuers home {\n\t\t\tusers_file /etc/caddy/users\n\t\t}\n\t}\n}\n:8080 {\n\trespond ok\n}\n",
			"parsing caddyfile tokens for 'gatehouse': unrecognized gatehouse option 'issuers'; did you mean issuer?, at Caddyfile:3"},
		{"jwt_issuer without users",
			":8080 {\n\tjwt_issuer /api/token/* {\n\t\taccess_ttl 5m\n\t\trefresh_ttl 1h\n\t}\n}\n",
			"parsing caddyfile tokens for 'jwt_issuer': jwt_issuer needs users: set users_file, user or credentials_url, at Caddyfile:2"},
		{"gatehouse issuer without users",
			"{\n\tgatehouse {\n\t\tissuer home {\n\t\t\taccess_ttl 5m\n\t\t}\n\t}\n}\n:8080 {\n\trespond ok\n}\n",
			"parsing caddyfile tokens for 'gatehouse': jwt_issuer needs users: set users_file, user or credentials_url, at Caddyfile:3"},
		{"session cookies alike",
			":8080 {\n\tjwt_issuer /api/token/* {\n\t\t" + user + "\n\t\tsession {\n\t\t\taccess_cookie x\n\t\t\trefresh_cookie x\n\t\t}\n\t}\n}\n",
			"parsing caddyfile tokens for 'jwt_issuer': session: access_cookie and refresh_cookie must differ (both are \"x\"), at Caddyfile:4"},
		{"forwarded_headers unknown",
			":8080 {\n\tjwt_forward_auth {\n\t\tsecret {env.S}\n\t\tforwarded_headers x-real\n\t}\n}\n",
			"parsing caddyfile tokens for 'jwt_forward_auth': forwarded_headers \"x-real\" must be x-forwarded (Traefik, Caddy, HAProxy) or x-original (nginx), at Caddyfile:4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := adapt(t, tt.caddyfile)
			if err == nil {
				t.Fatal("adapted without error")
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestPlaceholderErrorMessages pins the whole text of a secret placeholder that gives nothing
// when the configuration loads: the directive's file:line, the setting, the variable or file,
// and what to do; never the value.
func TestPlaceholderErrorMessages(t *testing.T) {
	t.Setenv("GATEHOUSE_TEST_EMPTY", "")
	dir := t.TempDir()
	tests := []struct {
		name string
		body string // inside jwt_auth { }, the directive on line 3
		want string
	}{
		{"unset variable", "secret {env.GATEHOUSE_TEST_UNSET_X}",
			"Caddyfile:3: secret {env.GATEHOUSE_TEST_UNSET_X}: the environment variable GATEHOUSE_TEST_UNSET_X is not set; set it in Caddy's environment (e.g. its systemd unit), or use {file./path}"},
		{"empty variable", "secret {env.GATEHOUSE_TEST_EMPTY}",
			"Caddyfile:3: secret {env.GATEHOUSE_TEST_EMPTY}: the environment variable GATEHOUSE_TEST_EMPTY is empty; give it the value"},
		{"missing file", "secret {file." + dir + "/nope}",
			"Caddyfile:3: secret {file." + dir + "/nope}: the file " + dir + "/nope cannot be read: no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := provisionAdaptedAuth(t, ":8080 {\n\trespond /x ok\n\tjwt_auth {\n\t\t"+tt.body+"\n\t}\n\trespond ok\n}\n")
			if err == nil {
				t.Fatal("provisioned without error")
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error\n%s\nwant\n%s", got, tt.want)
			}
		})
	}

	// The store's address too, without its literal part (which may hold a password).
	err := provisionAdaptedIssuer(t, ":8080 {\n\tjwt_issuer /api/token/* {\n\t\tuser bob "+bobHash+
		"\n\t\tstore redis redis://:pw@{env.GATEHOUSE_TEST_UNSET_REDIS}/0\n\t}\n}\n")
	want := "Caddyfile:2: store redis {env.GATEHOUSE_TEST_UNSET_REDIS}: the environment variable GATEHOUSE_TEST_UNSET_REDIS is not set; set it in Caddy's environment (e.g. its systemd unit), or use {file./path}"
	if err == nil || err.Error() != want {
		t.Errorf("store: error\n%v\nwant\n%s", err, want)
	}
}

// TestStartMessagesAtDirective: the warning about a jwt_auth left without keys and the error
// about an issuer_name no issuer has start with the jwt_auth's file:line; the error names the
// nearest issuer name.
func TestStartMessagesAtDirective(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	app := newApp()
	app.logger = zap.New(core)
	app.registerAuth(&JWTAuth{Source: "Caddyfile:7", link: &issuerLink{trust: trust{site: &siteA{}, keys: true}}})
	if err := app.Start(); err != nil {
		t.Fatal(err)
	}
	want := "Caddyfile:7: jwt_auth has no key settings and no jwt_issuer is loaded in its site; tokens are refused (no_keys_loaded) until one is: " +
		"add a jwt_issuer to the site, name one with issuer_name, or set secret, public_key, jwks_file or jwks_url"
	if all := logs.All(); len(all) != 1 || all[0].Message != want {
		t.Errorf("warnings %v\nwant one: %s", all, want)
	}

	app = newApp()
	if _, err := app.registerIssuer(&issuerEntry{name: "shop", keys: keys.NewMulti()}); err != nil {
		t.Fatal(err)
	}
	app.registerAuth(&JWTAuth{Source: "Caddyfile:12", link: &issuerLink{trust: trust{names: []string{"shpo"}, keys: true}}})
	err := app.Start()
	want = "Caddyfile:12: jwt_auth issuer_name shpo: this configuration has no jwt_issuer named shpo; did you mean shop?"
	if err == nil || err.Error() != want {
		t.Errorf("error\n%v\nwant\n%s", err, want)
	}
}

// TestValidateErrorsAtDirective: Validate's errors, for a configuration adapted from a
// Caddyfile and edited as JSON, start with the directive's file:line, as Provision's do.
func TestValidateErrorsAtDirective(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want string
	}{
		{"jwt_auth", (&JWTAuth{Source: "Caddyfile:5", MaxTokenSize: 1}).Validate(),
			"Caddyfile:5: max_token_size 1 is out of range; use a number of bytes from 256 to 1048576 (default 8192)"},
		{"jwt_issuer", (&JWTIssuer{IssuerConfig: IssuerConfig{Source: "Caddyfile:9"}}).Validate(),
			"Caddyfile:9: jwt_issuer needs users: set users_file, user or credentials_url"},
		{"jwt_forward_auth", (&ForwardAuth{JWTAuth: JWTAuth{Source: "Caddyfile:2"}, ForwardedHeaders: "x-real"}).Validate(),
			`Caddyfile:2: forwarded_headers "x-real" must be x-forwarded (Traefik, Caddy, HAProxy) or x-original (nginx)`},
	} {
		if tt.err == nil || tt.err.Error() != tt.want {
			t.Errorf("%s: error\n%v\nwant\n%s", tt.name, tt.err, tt.want)
		}
	}
}
