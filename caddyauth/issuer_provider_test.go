package caddyauth

import (
	"encoding/json"
	"strings"
	"testing"
)

// providerSite is a Caddyfile with an issuer that is an OpenID provider; body replaces the
// provider block.
func providerSite(issuer, provider string) string {
	return `auth.example.com {
	jwt_issuer /auth/* {
		user alice ` + aliceHash + `
		issuer ` + issuer + `
		session
		provider {` + provider + `
		}
	}
}
`
}

const grafanaClient = `
			client grafana {
				secret_hash ` + aliceHash + `
				redirect_uri https://grafana.example/login/generic_oauth
				post_logout_redirect_uri https://grafana.example/login
				scopes openid profile email offline_access
				claims roles groups
			}
			client spa {
				public
				redirect_uri https://spa.example/cb https://spa.example/cb2
			}`

func TestAdaptIssuerProvider(t *testing.T) {
	out, err := adapt(t, providerSite("https://auth.example.com/auth", grafanaClient))
	if err != nil {
		t.Fatal(err)
	}
	h := issuerHandler(t, out)
	got, _ := json.Marshal(h["provider"])
	want := `{"clients":[{"claims":["roles","groups"],"id":"grafana","post_logout_redirect_uris":["https://grafana.example/login"],` +
		`"redirect_uris":["https://grafana.example/login/generic_oauth"],"scopes":["openid","profile","email","offline_access"],"secret_hash":"` +
		aliceHash + `"},{"id":"spa","public":true,"redirect_uris":["https://spa.example/cb","https://spa.example/cb2"]}]}`
	if string(got) != want {
		t.Errorf("provider\n got %s\nwant %s", got, want)
	}
}

// TestAdaptIssuerProviderErrors: configuration mistakes are adapt errors at their line.
func TestAdaptIssuerProviderErrors(t *testing.T) {
	for _, c := range []struct {
		name      string
		caddyfile string
		line      int
		want      string
	}{
		{"plaintext secret", providerSite("https://auth.example.com/auth", `
			client grafana {
				secret_hash hunter2-plain
				redirect_uri https://grafana.example/cb
			}`), 8, "bcrypt"},
		{"no redirect uri", providerSite("https://auth.example.com/auth", `
			client grafana {
				secret_hash `+aliceHash+`
			}`), 7, "redirect_uri"},
		{"neither secret nor public", providerSite("https://auth.example.com/auth", `
			client grafana {
				redirect_uri https://grafana.example/cb
			}`), 7, "secret_hash"},
		{"public with http redirect", providerSite("https://auth.example.com/auth", `
			client spa {
				public
				redirect_uri http://spa.example/cb
			}`), 7, "https"},
		{"unknown option", providerSite("https://auth.example.com/auth", `
			client spa {
				public
				redirect_uris https://spa.example/cb
			}`), 9, "unrecognized client option"},
		{"duplicate client", providerSite("https://auth.example.com/auth", grafanaClient+`
			client spa {
				public
				redirect_uri https://spa.example/cb
			}`), 18, "declared twice"},
		{"issuer not at the base path", providerSite("https://auth.example.com/", grafanaClient), 2, "base path"},
		{"http issuer", providerSite("http://auth.example.com/auth", grafanaClient), 6, "https"},
		{"no clients", providerSite("https://auth.example.com/auth", ``), 7, "at least one client"},
	} {
		t.Run(c.name, func(t *testing.T) { expectAdaptError(t, c.caddyfile, c.line, c.want) })
	}
	// Without session or issuer.
	expectAdaptError(t, strings.Replace(providerSite("https://auth.example.com/auth", grafanaClient), "\t\tsession\n", "", 1), 5, "needs session")
	expectAdaptError(t, strings.Replace(providerSite("https://auth.example.com/auth", grafanaClient), "\t\tissuer https://auth.example.com/auth\n", "", 1), 5, "needs issuer")
}
