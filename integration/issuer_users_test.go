package integration

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestIssuerUsersFile logs in users of an htpasswd-style file whose hashes bin/caddy
// hash-password made (bcrypt, its default, and argon2id); a bad line is skipped, reported with
// its number, and does not drop the others; the file is read again when it changes.
func TestIssuerUsersFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	usersFile := filepath.Join(dir, "users")
	bcryptHash := hashPassword(t, "", "bcrypt-pw")
	argonHash := hashPassword(t, "argon2id", "argon-pw")
	if !strings.HasPrefix(bcryptHash, "$2a$") || !strings.HasPrefix(argonHash, "$argon2id$") {
		t.Fatalf("unexpected hash formats %.4s… and %.10s…", bcryptHash, argonHash)
	}
	writeFile(t, usersFile, "# made by caddy hash-password\nbea:"+bcryptHash+"\nnot a user line\nara:"+argonHash+"\n")

	srv := startCaddy(t, `
	jwt_issuer /auth/* {
		users_file `+usersFile+`
	}
	handle /api/* {
		jwt_auth
		respond "hello {http.auth.user.id}"
	}`)
	for _, tt := range []struct {
		user, password string
		status         int
	}{
		{"bea", "bcrypt-pw", http.StatusOK},
		{"ara", "argon-pw", http.StatusOK},
		{"bea", "argon-pw", http.StatusUnauthorized},
		{"ara", "", http.StatusBadRequest},
		{"nobody", "bcrypt-pw", http.StatusUnauthorized},
	} {
		r := postJSON(t, srv.URL+"/auth/", credentials(tt.user, tt.password))
		if r.Status != tt.status {
			t.Errorf("%s: status %d, want %d; %s", tt.user, r.Status, tt.status, r.Body)
			continue
		}
		if tt.status == http.StatusOK {
			access, _ := tokens(t, r)
			expect(t, tt.user+" on the protected route", get(t, srv.URL+"/api/x", bearer(access)), http.StatusOK, "hello "+tt.user)
		}
	}
	if log := srv.logText(t); !strings.Contains(log, `"line":3`) || !strings.Contains(log, "users file: line skipped") {
		t.Error("the bad line was not reported with its number")
	}

	// A user added to the file can log in without a reload (the file is looked at once a
	// second at most).
	writeFile(t, usersFile, "bea:"+bcryptHash+"\nara:"+argonHash+"\nnew:"+argonHash+"\n")
	future := time.Now().Add(2 * time.Second)
	_ = os.Chtimes(usersFile, future, future)
	if !eventually(5*time.Second, func() bool {
		return postJSON(t, srv.URL+"/auth/", credentials("new", "argon-pw")).Status == http.StatusOK
	}) {
		t.Error("a user added to the users file cannot log in")
	}
}

// TestIssuerCredentialsURL delegates the password check to an app: yes (200 with claims) logs
// in with the app's claims, no (401) is a wrong password, an error or a timeout is a 503.
func TestIssuerCredentialsURL(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var c struct{ Username, Password string }
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" ||
			json.NewDecoder(r.Body).Decode(&c) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		switch c.Password {
		case "yes":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"user_id":42,"roles":["staff"]}`))
		case "no":
			w.WriteHeader(http.StatusUnauthorized)
		case "error":
			w.WriteHeader(http.StatusInternalServerError)
		case "slow":
			select { // longer than the issuer's 5s timeout
			case <-release:
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		}
	}))
	t.Cleanup(app.Close)
	t.Cleanup(func() { close(release) })

	srv := startCaddy(t, `
	jwt_issuer /auth/* {
		credentials_url `+app.URL+`/check
	}
	handle /api/* {
		jwt_auth {
			require roles staff
		}
		respond "hello {http.auth.user.id}"
	}`)
	r := postJSON(t, srv.URL+"/auth/", credentials("dana", "yes"))
	access, _ := tokens(t, r)
	expect(t, "the app's claims reach the token", get(t, srv.URL+"/api/x", bearer(access)), http.StatusOK, "hello 42")

	for _, tt := range []struct {
		password string
		status   int
		body     string
	}{
		{"no", http.StatusUnauthorized, bodyBadCredentials},
		{"error", http.StatusServiceUnavailable, bodyUnavailable},
		{"slow", http.StatusServiceUnavailable, bodyUnavailable},
	} {
		started := time.Now()
		expect(t, "app answers "+tt.password, postJSON(t, srv.URL+"/auth/", credentials("dana", tt.password)), tt.status, tt.body)
		if tt.password == "slow" && time.Since(started) > 9*time.Second {
			t.Errorf("a slow app held the login %s; the timeout is 5s", time.Since(started))
		}
	}
}
