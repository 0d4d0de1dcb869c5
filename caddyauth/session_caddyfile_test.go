package caddyauth

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestAdaptSession(t *testing.T) {
	dir := t.TempDir()
	page := writeFile(t, dir, "login.html", []byte(`<form method="post" action="{{.Action}}"></form>`))
	out, err := adapt(t, `:8080 {
	jwt_issuer /api/token/* {
		user bob `+bobHash+`
		session {
			access_cookie  __Host-a
			refresh_cookie __Host-r
			login_page     `+page+`
			origin         https://App.example https://admin.example:8443
		}
	}
	jwt_auth /private/* {
		session /api/token
	}
}`)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(issuerHandler(t, out)["session"])
	want := `{"access_cookie":"__Host-a","login_page":"` + page + `","origins":["https://App.example","https://admin.example:8443"],"refresh_cookie":"__Host-r"}`
	if string(got) != want {
		t.Errorf("issuer session\n%s\nwant\n%s", got, want)
	}
	if s := jwtHandler(t, out)["session"]; s != "/api/token" {
		t.Errorf("jwt_auth session %v", s)
	}

	out, err = adapt(t, ":8080 {\n\tjwt_issuer /auth/* {\n\t\tuser bob "+bobHash+"\n\t\tsession\n\t}\n}")
	if err != nil {
		t.Fatal(err)
	}
	if s := issuerHandler(t, out)["session"]; !reflect.DeepEqual(s, map[string]any{}) {
		t.Errorf("bare session adapted to %v", s)
	}
}

func TestAdaptSessionErrors(t *testing.T) {
	user := "jwt_issuer /api/token/* {\n\t\tuser bob " + bobHash + "\n\t\t"
	tests := []struct {
		name, body string
		line       int
		want       string
	}{
		{"session argument", user + "session yes\n\t}", 4, "session takes [{ <session options> }], e.g. session { login_page /etc/caddy/login.html }; got 1 value"},
		{"cookie name", user + "session {\n\t\t\taccess_cookie a;b\n\t\t}\n\t}", 5, "cookie name \"a;b\" may hold only"},
		{"same cookies", user + "session {\n\t\t\taccess_cookie x\n\t\t\trefresh_cookie x\n\t\t}\n\t}", 4, "access_cookie and refresh_cookie must differ"},
		{"origin with a path", user + "session {\n\t\t\torigin https://app.example/x\n\t\t}\n\t}", 5, "must be only scheme://host[:port]"},
		{"origin without scheme", user + "session {\n\t\t\torigin app.example\n\t\t}\n\t}", 5, "must start with https:// or http://"},
		// A missing or bad login page is found when the configuration is loaded:
		// TestIssuerProvisionErrorsAtDirective.
		{"unknown option", user + "session {\n\t\t\tcookie x\n\t\t}\n\t}", 5, "unrecognized session option 'cookie'"},
		{"twice", user + "session {\n\t\t\torigin https://a.example\n\t\t\torigin https://b.example\n\t\t}\n\t}", 6, "session origin is already set"},
		{"no base path", "jwt_issuer {\n\t\tuser bob " + bobHash + "\n\t\tsession\n\t}", 2, "session needs the issuer's base path"},
		{"jwt_auth session no arg", "jwt_auth {\n\t\tsession\n\t}", 3, "session takes <issuer base path>, e.g. session /api/token; got no value"},
		{"jwt_auth session relative", "jwt_auth {\n\t\tsession api/token\n\t}", 3, "must be the base path of a jwt_issuer"},
		{"jwt_auth session trailing slash", "jwt_auth {\n\t\tsession /api/token/\n\t}", 3, "must be the base path of a jwt_issuer"},
		{"jwt_auth session after from_cookie", "jwt_auth {\n\t\tfrom_cookie c\n\t\tsession /api/token\n\t}", 4, "from_cookie c cannot be combined with session /api/token"},
		{"jwt_auth from_cookie after session", "jwt_auth {\n\t\tsession /api/token\n\t\tfrom_cookie c\n\t}", 4, "from_cookie c cannot be combined with session"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expectAdaptError(t, ":8080 {\n\t"+tt.body+"\n}\n", tt.line, tt.want)
		})
	}
}
