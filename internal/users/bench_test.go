package users

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkLocalAuthenticate is one login check with Caddy's comparers: bcrypt at cost 10 and
// argon2id at `caddy hash-password`'s defaults, for a known user with the right password, a
// known user with a wrong one, and an unknown user (compared against a decoy: it should cost
// what a wrong password costs).
func BenchmarkLocalAuthenticate(b *testing.B) {
	for _, alg := range []string{"bcrypt-10", "argon2id"} {
		var hash string
		if alg == "argon2id" {
			hash = argon2Hash(b, "pw")
		} else {
			hash = bcryptHash(b, "pw", 10, "$2b$")
		}
		// A file of 1000 users, as a site with a users file might have, all of one cost.
		var file strings.Builder
		for i := range 1000 {
			fmt.Fprintf(&file, "user%d:%s\n", i, hash)
		}
		l, err := NewLocal(LocalConfig{File: writeFile(b, file.String()), Algorithms: caddyAlgorithms()})
		if err != nil {
			b.Fatal(err)
		}
		for _, tc := range []struct{ name, user, pw string }{
			{"known", "user500", "pw"}, {"wrong password", "user500", "px"}, {"unknown", "mallory", "pw"},
		} {
			b.Run(alg+"/"+tc.name, func(b *testing.B) {
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					l.Authenticate(ctx, tc.user, tc.pw)
				}
			})
		}
	}
}

// BenchmarkParseHtpasswd reads a users file of 10000 bcrypt users.
func BenchmarkParseHtpasswd(b *testing.B) {
	var file strings.Builder
	for i := range 10000 {
		fmt.Fprintf(&file, "user%d:%s\n", i, hb)
	}
	text := file.String()
	algs := caddyAlgorithms()
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		if us, _, err := parseHtpasswd(strings.NewReader(text), algs); err != nil || len(us) != 10000 {
			b.Fatal(len(us), err)
		}
	}
}

// BenchmarkRemoteAuthenticate is one credential check against an app on loopback.
func BenchmarkRemoteAuthenticate(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, `{"user_id":7,"roles":["admin"]}`)
	}))
	defer srv.Close()
	r, err := NewRemote(RemoteConfig{URL: srv.URL})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Authenticate(ctx, "alice", "pw"); err != nil {
			b.Fatal(err)
		}
	}
}
