package integration

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
)

// TestCaddyfileExample serves the site of the repository's Caddyfile.example (what
// `./xcaddy.sh run` runs) on a test port, in front of the example Django app (examples/django)
// under gunicorn, and walks the README's demo: the public page, a refusal, a login as the demo
// user, the app's API and the private page with the access token, and a refresh.
func TestCaddyfileExample(t *testing.T) {
	t.Parallel()
	app := startExampleApp(t, testSecret)
	srv := startCaddy(t, exampleSite(t, "Caddyfile.example"), "GATEHOUSE_SECRET="+testSecret, "GATEHOUSE_APP="+app.Addr)

	if resp := get(t, srv.URL+"/"); resp.Status != http.StatusOK {
		t.Fatalf("public page: %d", resp.Status)
	}
	if resp := get(t, srv.URL+"/api/whoami/"); resp.Status != http.StatusUnauthorized || resp.Body != bodyMissing {
		t.Fatalf("API without a token: %d %q", resp.Status, resp.Body)
	}

	login, err := httpClient.PostForm(srv.URL+"/api/token/", url.Values{"username": {"demo"}, "password": {"gatehouse-demo"}})
	if err != nil {
		t.Fatal(err)
	}
	var pair struct{ Access, Refresh string }
	err = json.NewDecoder(login.Body).Decode(&pair)
	login.Body.Close()
	if login.StatusCode != http.StatusOK || err != nil || pair.Access == "" || pair.Refresh == "" {
		t.Fatalf("demo login: %d, %v", login.StatusCode, err)
	}
	if w := appWhoami(t, "API with the access token", get(t, srv.URL+"/api/whoami/", bearer(pair.Access))); w.userOf() != "1" {
		t.Fatalf("API with the access token: the app saw user %q, want 1", w.userOf())
	}
	if resp := get(t, srv.URL+"/private/", bearer(pair.Access)); resp.Status != http.StatusOK {
		t.Fatalf("private page with the access token: %d", resp.Status)
	}
	if resp := get(t, srv.URL+"/api/whoami/", bearer(pair.Refresh)); resp.Status != http.StatusUnauthorized || resp.Body != bodyWrongType {
		t.Fatalf("API with the refresh token: %d %q", resp.Status, resp.Body)
	}

	refresh, err := httpClient.PostForm(srv.URL+"/api/token/refresh/", url.Values{"refresh": {pair.Refresh}})
	if err != nil {
		t.Fatal(err)
	}
	var next struct{ Access, Refresh string }
	err = json.NewDecoder(refresh.Body).Decode(&next)
	refresh.Body.Close()
	if refresh.StatusCode != http.StatusOK || err != nil || next.Access == "" || next.Refresh == "" {
		t.Fatalf("refresh (rotating): %d, %v", refresh.StatusCode, err)
	}
	if w := appWhoami(t, "API with the refreshed access token", get(t, srv.URL+"/api/whoami/", bearer(next.Access))); w.userOf() != "1" {
		t.Fatalf("API with the refreshed access token: the app saw user %q, want 1", w.userOf())
	}
}
