package integration

import (
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Storage faults while Caddy runs. The tests run as root in CI, where chmod blocks nothing, so
// faults are made from the file system's shape instead, which binds root too. Caddy's
// file_system storage (certmagic.FileStorage) keeps key K at <storage>/K, reads it with
// os.ReadFile, writes it with os.MkdirAll of its directory and then a temporary file renamed
// into place, and takes lock N by creating <storage>/locks/N.lock:
//
//   - a directory replaced by a regular file: every read and write below it fails with ENOTDIR,
//     which is not "does not exist" (a storage that cannot be reached at all);
//   - a directory that does not exist yet replaced by a symlink to nowhere: a read below it
//     says, truthfully, "does not exist", while MkdirAll, and so every write, fails (EEXIST on
//     a path that is not a directory) (a storage that can be read but not written);
//   - the locks directory replaced by a regular file: no lock can be taken.
//
// Each fault is repaired by putting the directory back, as an operator would.

// replaceWithFile moves the directory at path aside (if it exists) and puts a regular file in its
// place; the returned function puts the directory back.
func replaceWithFile(t *testing.T, path string) (repair func()) {
	t.Helper()
	saved := path + ".saved"
	moved := false
	switch _, err := os.Lstat(path); {
	case err == nil:
		if err := os.Rename(path, saved); err != nil {
			t.Fatal(err)
		}
		moved = true
	case !errors.Is(err, fs.ErrNotExist):
		t.Fatal(err)
	}
	writeFile(t, path, "not a directory\n")
	return func() {
		t.Helper()
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		if moved {
			if err := os.Rename(saved, path); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// replaceWithDanglingSymlink puts a symlink to a missing path where the directory path would
// be created. path must not exist: a symlink over stored entries would hide them, and the
// storage would then lie ("does not exist") instead of failing.
func replaceWithDanglingSymlink(t *testing.T, path string) (repair func()) {
	t.Helper()
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%s exists (or cannot be checked: %v); the fault would hide its entries", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(t.TempDir(), "missing", "dir"), path); err != nil {
		t.Fatal(err)
	}
	return func() {
		t.Helper()
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
	}
}

// TestIssuerStorageFaults breaks the issuer's storage under a running Caddy. While it is broken,
// refresh and blacklist answer exactly 503 with simplejwt's JSON whenever they cannot read or
// record what they must (never a 500, never a 200 whose state is not stored), while logins,
// jwks.json and jwt_auth's verification of access tokens, which need no storage, go on with
// 200. Once repaired, everything works again and nothing is lost: what was revoked before the
// fault stays revoked, and a token whose refresh failed was not used up by the failure.
func TestIssuerStorageFaults(t *testing.T) {
	t.Parallel()
	const (
		revokeDir = "gatehouse/issuer/revoke"
		issuerDir = "gatehouse/issuer"
		locksDir  = "locks"
	)
	tests := []struct {
		name string
		// seed: revoke and rotate tokens before the fault (false for a fault that needs the
		// revocation directories not to exist yet).
		seed bool
		// breakStorage makes the fault under the storage directory and returns its repair.
		breakStorage func(t *testing.T, storage string) (repair func())
		// The answers while the storage is broken: blacklist and verify of a refresh token
		// (503, or 200 where they need nothing that is broken), and refresh of a token revoked
		// or used up before the fault (seed only; 503, or 401 where the state can be read).
		blacklist, verifyRefresh, seededRefresh int
	}{
		{"issuer storage is not a directory", true,
			func(t *testing.T, s string) func() {
				return replaceWithFile(t, filepath.Join(s, filepath.FromSlash(issuerDir)))
			},
			http.StatusServiceUnavailable, http.StatusServiceUnavailable, http.StatusServiceUnavailable},
		{"revocations can be read but not written", false,
			func(t *testing.T, s string) func() {
				return replaceWithDanglingSymlink(t, filepath.Join(s, filepath.FromSlash(revokeDir)))
			},
			http.StatusServiceUnavailable, http.StatusOK, 0},
		{"storage locks cannot be taken", true,
			func(t *testing.T, s string) func() { return replaceWithFile(t, filepath.Join(s, locksDir)) },
			// Blacklisting takes no lock, verify writes nothing, and revoked tokens are read.
			http.StatusOK, http.StatusOK, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			inst := newCaddyInstance(t)
			srv := inst.start(t, issuerSite)
			storage := filepath.Join(inst.dir, "storage")
			login := func(what string) (string, string) {
				t.Helper()
				r := postJSON(t, srv.URL+"/api/token/", credentials("alice", "alice-pw"))
				if r.Status != http.StatusOK {
					t.Fatalf("%s: login: %d %s", what, r.Status, r.Body)
				}
				return tokens(t, r)
			}
			refresh := func(tok string) response {
				t.Helper()
				return postJSON(t, srv.URL+"/api/token/refresh/", tokenField("refresh", tok))
			}
			refreshed := func(what, tok string) (string, string) {
				t.Helper()
				r := refresh(tok)
				if r.Status != http.StatusOK {
					t.Fatalf("%s: %d %s, want 200", what, r.Status, r.Body)
				}
				return tokens(t, r)
			}
			blacklist := func(tok string) response {
				t.Helper()
				return postJSON(t, srv.URL+"/api/token/blacklist/", tokenField("refresh", tok))
			}
			jwks := get(t, srv.URL+"/api/token/jwks.json")
			expect(t, "jwks.json", jwks, http.StatusOK, "")

			// Before the fault: a session to keep, and (seed) a blacklisted one and a rotated
			// one whose rotated-out token is later replayed.
			access, live := login("before the fault")
			_, spare := login("session to blacklist while broken")
			var blacklisted, rotatedOut, successor string
			if tt.seed {
				_, blacklisted = login("blacklisted session")
				expect(t, "blacklist before the fault", blacklist(blacklisted), http.StatusOK, "{}")
				_, rotatedOut = login("rotated session")
				_, successor = refreshed("rotation before the fault", rotatedOut)
			}

			repair := tt.breakStorage(t, storage)
			unavailable := func(what string, r response) {
				t.Helper()
				expect(t, what, r, http.StatusServiceUnavailable, bodyUnavailable)
			}
			for i := range 3 { // a retry while the storage is down neither succeeds nor spends the token
				unavailable("refresh while broken", refresh(live))
				if i == 0 {
					expect(t, "jwt_auth with an access token while broken",
						get(t, srv.URL+"/api/hello", bearer(access)), http.StatusOK, "hello 1")
				}
			}
			if tt.blacklist == http.StatusServiceUnavailable {
				unavailable("blacklist while broken", blacklist(spare))
			} else {
				expect(t, "blacklist while broken", blacklist(spare), http.StatusOK, "{}")
			}
			switch tt.verifyRefresh {
			case http.StatusServiceUnavailable:
				unavailable("verify a refresh token while broken", postJSON(t, srv.URL+"/api/token/verify/", tokenField("token", live)))
			default:
				expect(t, "verify a refresh token while broken", postJSON(t, srv.URL+"/api/token/verify/", tokenField("token", live)),
					http.StatusOK, "{}")
			}
			expect(t, "verify an access token while broken", postJSON(t, srv.URL+"/api/token/verify/", tokenField("token", access)),
				http.StatusOK, "{}")
			expect(t, "jwks.json while broken", get(t, srv.URL+"/api/token/jwks.json"), http.StatusOK, jwks.Body)
			newAccess, newRefresh := login("while broken")
			expect(t, "jwt_auth with a token minted while broken",
				get(t, srv.URL+"/api/hello", bearer(newAccess)), http.StatusOK, "hello 1")
			if tt.seed {
				// Revoked or used up before the fault: never a 200; 503 while that cannot be
				// read, else the stored answer.
				want := bodyUnavailable
				if tt.seededRefresh == http.StatusUnauthorized {
					want = bodyBlacklisted
				}
				expect(t, "refresh of the blacklisted token while broken", refresh(blacklisted), tt.seededRefresh, want)
				expect(t, "replay of the rotated-out token while broken", refresh(rotatedOut), tt.seededRefresh, want)
			}
			if !srv.running() {
				t.Fatal("caddy exited while the storage was broken")
			}

			repair()

			// Repaired: nothing stored before the fault was lost.
			if tt.seed {
				expect(t, "refresh of the blacklisted token after the repair", refresh(blacklisted),
					http.StatusUnauthorized, bodyBlacklisted)
				expect(t, "replay of the rotated-out token after the repair", refresh(rotatedOut),
					http.StatusUnauthorized, bodyBlacklisted)
				expect(t, "its successor (family revoked by the replay)", refresh(successor),
					http.StatusUnauthorized, bodyBlacklisted)
			}
			// A blacklist that failed revoked nothing; one that answered 200 was stored.
			if tt.blacklist == http.StatusOK {
				expect(t, "refresh of the token blacklisted while broken", refresh(spare), http.StatusUnauthorized, bodyBlacklisted)
			} else {
				refreshed("refresh of the token whose blacklist failed", spare)
			}
			// The refreshes that failed did not use the token up: it rotates once, then is spent.
			access2, next := refreshed("first refresh after the repair", live)
			expect(t, "jwt_auth with the access token of the first refresh after the repair",
				get(t, srv.URL+"/api/hello", bearer(access2)), http.StatusOK, "hello 1")
			expect(t, "logout after the repair", blacklist(next), http.StatusOK, "{}")
			expect(t, "refresh after the logout", refresh(next), http.StatusUnauthorized, bodyBlacklisted)
			// The session that started while the storage was broken is a normal one.
			if _, r := refreshed("refresh of a token minted while broken", newRefresh); r == "" {
				t.Error("refresh of a token minted while broken returned no refresh token")
			}
			if log := srv.logText(t); !strings.Contains(log, "revocation storage failed") {
				t.Error("the storage failure was not logged")
			}
		})
	}
}
