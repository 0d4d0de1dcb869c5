// Package users checks usernames and passwords for the issuer: users from an htpasswd-style file
// and inline in the config (Local), or an app server that keeps its own user database (Remote).
// Password hashes are compared by injected Comparers (Caddy's bcrypt and argon2id in production),
// so this package imports no Caddy.
package users

import (
	"context"
	"errors"
)

// Identity is an authenticated user.
type Identity struct {
	// Username is the name the user logged in with.
	Username string
	// Claims are the user's extra token claims: the inline `claim`s of a configured user, or the
	// JSON object a credentials_url answered with. Values are string, float64/json.Number, bool,
	// []any or map[string]any as encoding/json produces; nil when the user has none.
	Claims map[string]any
}

var (
	// ErrInvalid is the answer for an unknown user and for a wrong password alike (the caller
	// cannot tell them apart, and neither can a client by timing).
	ErrInvalid = errors.New("no active account found with the given credentials")
	// ErrUnavailable means the credentials could not be checked (a credentials_url that is down,
	// times out or answers something unexpected): the login fails with 503, never succeeds.
	ErrUnavailable = errors.New("the credential check is unavailable")
)

// Authenticator checks a username and password. It returns ErrInvalid, ErrUnavailable, a context
// error, limit.ErrQueueFull or limit.ErrShareExceeded (too many logins at once: nothing was
// checked), or an Identity. The client address, for the gate's per-client share, is in ctx
// (limit.WithClient). It is safe for concurrent use.
type Authenticator interface {
	Authenticate(ctx context.Context, username, password string) (Identity, error)
}

// Comparer compares a plaintext password with a stored hash. Caddy's caddyauth.BcryptHash and
// caddyauth.Argon2idHash satisfy it.
type Comparer interface {
	Compare(hashed, plaintext []byte) (bool, error)
}

// Algorithm is one password hash format Local accepts.
type Algorithm struct {
	// Name is what messages call it: "bcrypt", "argon2id".
	Name string
	// Prefixes recognise the format in a stored hash ("$2a$", "$2b$", "$2y$"; "$argon2id$").
	Prefixes []string
	// Comparer checks a password against a hash of this format.
	Comparer Comparer
	// FakeHash is a valid hash of this format, compared against for unknown users so that they
	// cost the same time as a wrong password.
	FakeHash []byte
}

// Directory finds a user by name without a password: for a login whose proof is another
// (a passkey). Only sources that know their users can: Local does; an app behind
// credentials_url is asked about passwords only, so it is no Directory.
type Directory interface {
	// Lookup returns the identity of username, and false for a user it does not have (any
	// more: a user removed from the users file can no longer log in with a passkey either).
	Lookup(username string) (Identity, bool)
}
