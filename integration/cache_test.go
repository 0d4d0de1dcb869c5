package integration

import (
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestCachedTokenExpires: a token sent again is answered from jwt_auth's verified-token cache,
// yet it is refused the moment its exp passes, as an uncached token would be (with leeway 0: the
// default of 60 s would keep it another minute).
func TestCachedTokenExpires(t *testing.T) {
	t.Parallel()
	srv := startCaddy(t, `
	jwt_auth {
		secret `+testSecret+`
		leeway 0
	}
	respond "hello {http.auth.user.id}"`)
	exp := time.Now().Add(2 * time.Second).Truncate(time.Second).Add(time.Second)
	tok := hs256(t, access(jwt.MapClaims{"sub": "alice", "exp": exp.Unix()}))
	for i := 0; time.Now().Before(exp.Add(-200 * time.Millisecond)); i++ {
		if resp := get(t, srv.URL+"/", bearer(tok)); resp.Status != http.StatusOK || resp.Body != "hello alice" {
			t.Fatalf("request %d before exp: got %d %q", i, resp.Status, resp.Body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Until(exp))
	if resp := get(t, srv.URL+"/", bearer(tok)); resp.Status != http.StatusUnauthorized || resp.Body != bodyInvalid {
		t.Fatalf("after exp: got %d %q, want 401 %q", resp.Status, resp.Body, bodyInvalid)
	}
}

// TestCacheOffStillVerifies: with cache_size off every request is verified in full, with the
// same answers.
func TestCacheOffStillVerifies(t *testing.T) {
	t.Parallel()
	srv := startCaddy(t, `
	jwt_auth {
		secret `+testSecret+`
		cache_size off
	}
	respond "hello {http.auth.user.id}"`)
	tok := hs256(t, access(jwt.MapClaims{"sub": "alice"}))
	for range 3 {
		if resp := get(t, srv.URL+"/", bearer(tok)); resp.Status != http.StatusOK || resp.Body != "hello alice" {
			t.Fatalf("got %d %q", resp.Status, resp.Body)
		}
	}
	if resp := get(t, srv.URL+"/", bearer(tamper(tok))); resp.Status != http.StatusUnauthorized {
		t.Fatalf("tampered token: got %d", resp.Status)
	}
}
