package issuer

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp/caddyauth"
	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse-dev/gatehouse/internal/users"
)

// caddyAlgorithms are the hash formats as the Caddy adapter configures them: Caddy's own
// comparers and fake hashes.
func caddyAlgorithms() []users.Algorithm {
	return []users.Algorithm{
		{Name: "bcrypt", Prefixes: []string{"$2a$", "$2b$", "$2y$"}, Comparer: caddyauth.BcryptHash{},
			FakeHash: caddyauth.BcryptHash{}.FakeHash()},
		{Name: "argon2id", Prefixes: []string{"$argon2id$"}, Comparer: caddyauth.Argon2idHash{},
			FakeHash: caddyauth.Argon2idHash{}.FakeHash()},
	}
}

// caddyHash hashes password as `caddy hash-password --algorithm alg` does by default (bcrypt
// cost 14; argon2id m=47104,t=1,p=1).
func caddyHash(tb testing.TB, alg, password string) string {
	tb.Helper()
	var (
		h   []byte
		err error
	)
	switch alg {
	case "bcrypt":
		h, err = caddyauth.BcryptHash{}.Hash([]byte(password))
	case "argon2id":
		// The zero Argon2idHash has no parameters; the fake hash carries Caddy's defaults (and
		// a salt, which is fine for a benchmark).
		var a *caddyauth.Argon2idHash
		if a, _, err = caddyauth.DecodeHash(caddyauth.Argon2idHash{}.FakeHash()); err == nil {
			h, err = a.Hash([]byte(password))
		}
	}
	if err != nil {
		tb.Fatal(err)
	}
	return string(h)
}

// serve answers one request and returns the recorder.
func serve(h http.Handler, path, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	r.Header.Set("Content-Type", ctJSON)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// BenchmarkLogin is a successful login with a real users.Local and Caddy's hash comparers; the
// hash comparison dominates, by design.
func BenchmarkLogin(b *testing.B) {
	for _, alg := range []string{"bcrypt", "argon2id"} {
		b.Run(alg, func(b *testing.B) {
			local, err := users.NewLocal(users.LocalConfig{
				Users:      []users.User{{Name: "alice", Hash: caddyHash(b, alg, "pw-"+alg)}},
				Algorithms: caddyAlgorithms(),
			})
			if err != nil {
				b.Fatal(err)
			}
			f := newFixture(b, func(c *Config) { c.Users = local })
			body := `{"username":"alice","password":"pw-` + alg + `"}`
			b.ReportAllocs()
			for b.Loop() {
				if w := serve(f.h, "/", body); w.Code != http.StatusOK {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
		})
	}
}

// BenchmarkRefresh is a refresh: without rotation (a store check), and with rotation (a check
// and an atomic rotate in the store; each iteration presents the previous one's successor).
func BenchmarkRefresh(b *testing.B) {
	b.Run("plain", func(b *testing.B) {
		f := newFixture(b)
		_, refresh := f.login()
		body := `{"refresh":"` + refresh + `"}`
		b.ReportAllocs()
		for b.Loop() {
			if w := serve(f.h, "/refresh/", body); w.Code != http.StatusOK {
				b.Fatalf("%d %s", w.Code, w.Body)
			}
		}
	})
	b.Run("rotate", func(b *testing.B) {
		f := newFixture(b, rotating)
		_, refresh := f.login()
		b.ReportAllocs()
		for b.Loop() {
			w := serve(f.h, "/refresh/", `{"refresh":"`+refresh+`"}`)
			var out map[string]string
			if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || w.Code != http.StatusOK {
				b.Fatalf("%d %s", w.Code, w.Body)
			}
			refresh = out["refresh"]
		}
	})
}

// BenchmarkVerify is the verify endpoint with an access token (signature and claims only) and
// with a refresh token (plus a store check).
func BenchmarkVerify(b *testing.B) {
	f := newFixture(b)
	access, refresh := f.login()
	for _, tc := range []struct{ name, token string }{{"access", access}, {"refresh", refresh}} {
		b.Run(tc.name, func(b *testing.B) {
			body := `{"token":"` + tc.token + `"}`
			b.ReportAllocs()
			for b.Loop() {
				if w := serve(f.h, "/verify/", body); w.Code != http.StatusOK {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
		})
	}
}

// TestLoginCaddyHashes logs in through a real users.Local with Caddy's comparers, for each hash
// format (bcrypt at the lowest cost, to keep the test fast).
func TestLoginCaddyHashes(t *testing.T) {
	cheapBcrypt, err := bcrypt.GenerateFromPassword([]byte("pw-bcrypt"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	local, err := users.NewLocal(users.LocalConfig{
		Users: []users.User{
			{Name: "b", Hash: string(cheapBcrypt)},
			{Name: "a", Hash: caddyHash(t, "argon2id", "pw-argon2id"), Claims: map[string]any{"user_id": "42"}},
		},
		Algorithms: caddyAlgorithms(),
	})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, func(c *Config) { c.Users = local })
	tests := []struct {
		username, password string
		status             int
	}{
		{"b", "pw-bcrypt", 200},
		{"a", "pw-argon2id", 200},
		{"b", "pw-argon2id", 401},
		{"a", "pw-bcrypt", 401},
		{"nobody", "pw-bcrypt", 401},
	}
	for _, tt := range tests {
		w := f.post("/", "username", tt.username, "password", tt.password)
		if w.Code != tt.status {
			t.Fatalf("%s/%s: %d %s", tt.username, tt.password, w.Code, w.Body)
		}
		if tt.status == 401 {
			f.expect(w, 401, bodyNoAccount)
		}
	}
}
