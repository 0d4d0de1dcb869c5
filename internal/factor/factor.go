// Package factor is Gatehouse's second factor: time-based one-time codes (RFC 6238, with
// github.com/pquerna/otp), recovery codes and passkeys (WebAuthn, with
// github.com/go-webauthn/webauthn), the enrolled factors of each user kept in the issuer's state
// storage (kv.Storage: Caddy's storage or Redis), their secrets sealed at rest, and the signed,
// single-use challenge that stands between a password and a session. It imports no Caddy; the
// issuer's handlers call it.
package factor

import (
	"errors"
	"fmt"
)

// Mode says whether a user must, may or may not use a second factor.
type Mode string

// The modes.
const (
	// Required: the password alone never logs the user in; a user without a factor is sent
	// to enrolment after the password.
	Required Mode = "required"
	// Optional: a user who enrolled a factor must use it; one who did not logs in with the
	// password alone.
	Optional Mode = "optional"
	// Off: the user logs in with the password alone, enrolled factors or not.
	Off Mode = "off"
)

// ParseMode returns the Mode named s.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case Required, Optional, Off:
		return m, nil
	}
	return "", fmt.Errorf("second factor %q is unknown; use required, optional or off", s)
}

// Policy is the mode of every user: Default, unless Users names the user (exact username).
type Policy struct {
	Default Mode
	Users   map[string]Mode
}

// For returns the mode of username.
func (p Policy) For(username string) Mode {
	if m, ok := p.Users[username]; ok {
		return m
	}
	if p.Default == "" {
		return Off
	}
	return p.Default
}

// The refusals of a code. None of them says anything about the code itself.
var (
	// ErrMalformed: not six digits (a TOTP code) nor a recovery code's shape.
	ErrMalformed = errors.New("the code is malformed")
	// ErrWrong: a well-formed code that is not valid now.
	ErrWrong = errors.New("the code is not valid")
	// ErrReplayed: a code of a time step already used (or older).
	ErrReplayed = errors.New("the code was already used")
	// ErrNotEnrolled: the user has no such factor.
	ErrNotEnrolled = errors.New("no such factor is enrolled")
	// ErrEnrolled: the user has a factor already, and only a session may replace it.
	ErrEnrolled = errors.New("a second factor is enrolled already")
)
