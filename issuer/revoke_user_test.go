package issuer

import (
	"context"
	"strconv"
	"testing"
	"time"
)

// TestRevokedUserCannotRefresh: once a user's sessions are revoked in the store (as `caddy
// gatehouse revoke --user` does), the refresh tokens issued before are refused at refresh,
// verify and blacklist, with or without rotation; a later login of that user, and other users,
// refresh as before.
func TestRevokedUserCannotRefresh(t *testing.T) {
	for _, rotate := range []bool{false, true} {
		opts := []option{}
		if rotate {
			opts = append(opts, rotating)
		}
		f := newFixture(t, opts...)
		_, before := f.login()
		other := f.sign(`{"token_type":"refresh","exp":` + strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10) +
			`,"iat":` + strconv.FormatInt(time.Now().Add(-time.Minute).Unix(), 10) + `,"jti":"j-bob","user_id":"bob"}`)
		// alice's user id claim is the number 7: its text is what the command takes.
		if err := f.cfg.Store.RevokeUser(context.Background(), "7", time.Now().Add(24*time.Hour)); err != nil {
			t.Fatal(err)
		}
		f.expect(f.post("/refresh/", "refresh", before), 401, bodyBlacklisted)
		f.expect(f.post("/verify/", "token", before), 401, bodyBlacklisted)
		f.expect(f.post("/blacklist/", "refresh", before), 401, bodyBlacklisted)
		if code, _ := f.refreshed(other); code != 200 {
			t.Fatalf("rotate %v: another user's token: %d", rotate, code)
		}
		// A login after the revocation's second refreshes.
		time.Sleep(time.Until(time.Unix(time.Now().Unix()+1, 0)))
		_, after := f.login()
		if code, _ := f.refreshed(after); code != 200 {
			t.Fatalf("rotate %v: a login after the revocation: %d", rotate, code)
		}
	}
}
