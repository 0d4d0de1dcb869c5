package revoke

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/kv"
)

// ErrUserRevoked: the token was issued before its user's sessions were revoked.
var ErrUserRevoked = fmt.Errorf("%w: the user's sessions were revoked after it was issued", ErrRevoked)

// A user's sessions are revoked by an epoch rather than by listing them: the store keeps, per
// user, "refuse the tokens issued up to this second", and the refresh endpoints compare the
// token's iat with it. No per-user index of families is needed, a revocation is one write, and
// every instance sharing the storage sees it at the next refresh, as it reads the store then.

// dirUser holds <prefix>/user/<UserKey(user)>: {"exp":..,"before":..}, the epoch of a user.
const dirUser = "user"

// userEntry is a user's epoch: tokens with iat < Before (Unix seconds) are refused. Exp is when
// the last of those tokens has expired, after which Purge deletes it.
type userEntry struct {
	Exp    *int64 `json:"exp"`
	Before int64  `json:"before"`
}

// UserKey is the storage id of a user id: its SHA-256 in hex, so that any user id (an email
// address, a number, a name with a '/') is one safe key, and the store never holds user ids.
func UserKey(user string) string {
	sum := sha256.Sum256([]byte(user))
	return hex.EncodeToString(sum[:])
}

// UserEpoch is the Before of a revocation at t: the second after t, so that a token issued in
// the same second as the revocation (iat is whole seconds) is refused too. A user who logs in
// again within that second has to once more.
func UserEpoch(t time.Time) int64 { return t.Unix() + 1 }

// RevokeUser refuses the refresh tokens of user (the value of the token's user id claim) issued
// until now, from now until exp, the expiry of the last of them (now plus the refresh
// lifetime). A later revocation moves the epoch on; an earlier one never moves it back.
func (s *Store) RevokeUser(ctx context.Context, user string, exp time.Time) error {
	if user == "" {
		return errors.New("revoke: the user id must not be empty")
	}
	if exp.IsZero() {
		return errors.New("revoke: the tokens' expiry is required")
	}
	key := s.key(dirUser, UserKey(user))
	e := userEntry{Exp: ptr(unixCeil(exp)), Before: UserEpoch(s.now())}
	old, err := s.storage.Load(ctx, key)
	switch {
	case err == nil:
		var o userEntry
		if json.Unmarshal(old, &o) == nil && o.Exp != nil {
			*e.Exp = max(*e.Exp, *o.Exp)
			e.Before = max(e.Before, o.Before)
		}
	case !kv.IsNotExist(err):
		return fmt.Errorf("revoke: reading %s: %w", key, err)
	}
	b, _ := json.Marshal(e) // cannot fail: integers
	if err := s.storage.Store(ctx, key, b); err != nil {
		return fmt.Errorf("revoke: writing %s: %w", key, err)
	}
	return nil
}

// CheckUser returns ErrUserRevoked when user's sessions were revoked after iat (the token's
// issue time; zero for a token without one, which is then refused by any revocation), nil
// when the token may be used, or a storage error. An entry that does not decode refuses every
// token of the user (fail closed) until it is purged or rewritten.
func (s *Store) CheckUser(ctx context.Context, user string, iat time.Time) error {
	if user == "" {
		return nil // no user id claim: the minter refuses such a token anyway
	}
	key := s.key(dirUser, UserKey(user))
	b, err := s.storage.Load(ctx, key)
	switch {
	case kv.IsNotExist(err):
		return nil
	case err != nil:
		return fmt.Errorf("revoke: reading %s: %w", key, err)
	}
	var e userEntry
	if json.Unmarshal(b, &e) != nil || e.Exp == nil || iat.Unix() < e.Before {
		return ErrUserRevoked
	}
	return nil
}
