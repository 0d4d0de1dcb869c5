package caddyauth

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestAdaptOIDCSession: every session oidc setting lands in its JSON field, and a jwt_auth with a
// matcher gets a second route for its callback and logout paths.
func TestAdaptOIDCSession(t *testing.T) {
	out, err := adapt(t, `:8080 {
	jwt_auth /private/* {
		session oidc https://id.example.com {
			client_id            site
			client_secret        {env.OIDC_SECRET}
			scopes               openid email groups
			claim                email
			claim                groups roles
			callback_path        /auth/cb
			logout_path          /auth/out
			post_logout_redirect https://site.example/
			access_ttl           2m
			cookie               site_session
		}
		forward_claim email X-Email
	}
}`)
	if err != nil {
		t.Fatal(err)
	}
	var auths []map[string]any
	for _, h := range handlers(t, out) {
		if h["handler"] == "jwt_auth" {
			auths = append(auths, h)
		}
	}
	if len(auths) != 2 {
		t.Fatalf("%d jwt_auth handlers, want 2 (the matcher's and the callback's):\n%s", len(auths), out)
	}
	got, _ := json.Marshal(auths[0]["session_oidc"])
	want := `{"access_ttl":120000000000,"callback_path":"/auth/cb","claims":[{"from":"email"},{"from":"groups","to":"roles"}],"client_id":"site","client_secret":"{env.OIDC_SECRET}","cookie":"site_session","issuer":"https://id.example.com","logout_path":"/auth/out","post_logout_redirect":"https://site.example/","scopes":["openid","email","groups"]}`
	if string(got) != want {
		t.Errorf("session_oidc\n%s\nwant\n%s", got, want)
	}
	if !strings.Contains(string(out), `"path":["/auth/cb","/auth/out"]`) {
		t.Errorf("no route for the callback and logout paths:\n%s", out)
	}

	// Without a matcher the handler sees every path already: one route.
	out, err = adapt(t, ":8080 {\n\tjwt_auth {\n\t\tsession oidc https://id.example.com {\n\t\t\tclient_id site\n\t\t\tclient_secret 0123456789abcdef0123\n\t\t}\n\t}\n}")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(out), `"handler":"jwt_auth"`); n != 1 {
		t.Errorf("%d jwt_auth handlers without a matcher, want 1", n)
	}
}

func TestAdaptOIDCSessionErrors(t *testing.T) {
	head := "jwt_auth {\n\t\tsession oidc https://id.example.com {\n\t\t\tclient_id site\n\t\t\t"
	tests := []struct {
		name, body string
		line       int
		want       string
	}{
		{"no issuer", "jwt_auth {\n\t\tsession oidc\n\t}", 3, "session oidc takes the provider's issuer URL"},
		{"plain http issuer", "jwt_auth {\n\t\tsession oidc http://id.example.com\n\t}", 3, "plain http is allowed only to a loopback host"},
		{"no client_secret", "jwt_auth {\n\t\tsession oidc https://id.example.com {\n\t\t\tclient_id site\n\t\t}\n\t}", 5, "client_secret is required"},
		{"no client_id", "jwt_auth {\n\t\tsession oidc https://id.example.com {\n\t\t\tclient_secret 0123456789abcdef0123\n\t\t}\n\t}", 5, "client_id is required"},
		{"short secret", head + "client_secret short\n\t\t}\n\t}", 6, "at least 16 characters"},
		{"reserved claim", head + "client_secret 0123456789abcdef0123\n\t\t\tclaim email sub\n\t\t}\n\t}", 6, "claim sub cannot be set from the ID token"},
		{"callback path", head + "callback_path cb\n\t\t}\n\t}", 5, "must be a clean absolute path"},
		{"post logout relative", head + "post_logout_redirect /bye\n\t\t}\n\t}", 5, "must be an absolute URL"},
		{"access_ttl", head + "client_secret 0123456789abcdef0123\n\t\t\taccess_ttl 48h\n\t\t}\n\t}", 7, "access_ttl 48h0m0s is out of range"},
		{"unknown option", head + "redirect_uri x\n\t\t}\n\t}", 5, "unrecognized session oidc option 'redirect_uri'"},
		{"twice", head + "client_id other\n\t\t}\n\t}", 5, "client_id is already set"},
		{"with from_cookie", "jwt_auth {\n\t\tfrom_cookie c\n\t\tsession oidc https://id.example.com {\n\t\t\tclient_id site\n\t\t\tclient_secret 0123456789abcdef0123\n\t\t}\n\t}", 7, "from_cookie c cannot be combined with session oidc"},
		{"and a base", "jwt_auth {\n\t\tsession /api/token\n\t\tsession oidc https://id.example.com\n\t}", 4, "session is already set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expectAdaptError(t, ":8080 {\n\t"+tt.body+"\n}\n", tt.line, tt.want)
		})
	}
}
