package integration

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCaddyfileExample serves the site of the repository's Caddyfile.example (what
// `./xcaddy.sh run` runs) on a test port and walks the README's demo: the public page, a refusal,
// a login as the demo user, the protected API and page with the access token, and a refresh.
func TestCaddyfileExample(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "Caddyfile.example"))
	if err != nil {
		t.Fatal(err)
	}
	// The body of the one site block, with the site root made absolute (the test runs caddy in a
	// temporary directory).
	text := string(raw)
	start := strings.Index(text, "http://localhost:8080 {")
	end := strings.LastIndex(text, "}")
	if start < 0 || end < start {
		t.Fatal("Caddyfile.example no longer has the http://localhost:8080 site block")
	}
	body := text[start+len("http://localhost:8080 {") : end]
	body = strings.Replace(body, "root * examples/site", "root * "+filepath.Join(root, "examples", "site"), 1)
	srv := startCaddy(t, body, "GATEHOUSE_SECRET="+testSecret)

	if resp := get(t, srv.URL+"/"); resp.Status != http.StatusOK {
		t.Fatalf("public page: %d", resp.Status)
	}
	if resp := get(t, srv.URL+"/api/hello"); resp.Status != http.StatusUnauthorized || resp.Body != bodyMissing {
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
	if resp := get(t, srv.URL+"/api/hello", bearer(pair.Access)); resp.Status != http.StatusOK || resp.Body != "hello 1" {
		t.Fatalf("API with the access token: %d %q", resp.Status, resp.Body)
	}
	if resp := get(t, srv.URL+"/private/", bearer(pair.Access)); resp.Status != http.StatusOK {
		t.Fatalf("private page with the access token: %d", resp.Status)
	}
	if resp := get(t, srv.URL+"/api/hello", bearer(pair.Refresh)); resp.Status != http.StatusUnauthorized || resp.Body != bodyWrongType {
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
	if resp := get(t, srv.URL+"/api/hello", bearer(next.Access)); resp.Status != http.StatusOK || resp.Body != "hello 1" {
		t.Fatalf("API with the refreshed access token: %d %q", resp.Status, resp.Body)
	}
}
