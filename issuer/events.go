package issuer

import (
	"net/http"
	"time"
)

// Events is told how each login, refresh, logout and session renewal ended, for metrics. Every
// method is called once per request it is about, from the request's goroutine, once the answer
// is decided and before it is written (so a client holding its answer finds it counted): it
// must be safe for concurrent use and fast. The outcome is one of the
// constants below, never anything the client sent (no user name, address or token), so it can
// be a metric label as it is.
type Events interface {
	// Login is a login, through the JSON endpoint (POST <base>/) or the session login form
	// (POST <base>/login), and how long it took from the request reaching the handler until
	// the answer was decided, password hashing included. outcome is a Login* constant.
	Login(outcome string, took time.Duration)
	// Refresh is a POST <base>/refresh/. outcome is a Refresh* constant.
	Refresh(outcome string)
	// Logout is a session ended by its client: POST <base>/logout (the session form) or POST
	// <base>/blacklist/ (simplejwt's logout). outcome is a Logout* constant.
	Logout(outcome string)
	// Session is a session's access cookie renewed with its refresh cookie (Sessions.Renew,
	// which jwt_auth calls). outcome is a Session* constant.
	Session(outcome string)
}

// Outcomes of a login.
const (
	// LoginOK: the credentials were right; tokens (or session cookies) were given.
	LoginOK = "ok"
	// LoginBadCredentials: unknown user or wrong password (401, or the form again).
	LoginBadCredentials = "bad_credentials"
	// LoginRateLimited: over a login limit (client IP, username from that IP, username from
	// everywhere) or over the client's share of the password hashing queue: 429.
	LoginRateLimited = "rate_limited"
	// LoginBusy: the password hashing queue was full: 503 with Retry-After, unhashed.
	LoginBusy = "busy"
	// LoginUnavailable: the login limits or the credential check could not be consulted (a
	// shared store or credentials_url down), or the client went away: 503.
	LoginUnavailable = "unavailable"
	// LoginBadRequest: no username or password, or a body that cannot be read (400, 413, 415).
	LoginBadRequest = "bad_request"
	// LoginCrossSite: a form post from another site's page (403), refused before any limit.
	LoginCrossSite = "cross_site"
	// LoginInsecure: the session login form over plain http where https is required (400).
	LoginInsecure = "insecure"
	// LoginError: the user was checked but no token could be minted (500): a configuration
	// problem, such as a claim that cannot be put in a token.
	LoginError = "error"
	// LoginFactorNeeded: the password was right and a second factor is needed: the browser got
	// a challenge (or was sent to enrol one); the JSON login, a 401 asking for the otp field.
	LoginFactorNeeded = "factor_needed"
	// LoginBadFactor: a wrong, replayed, expired or malformed code or passkey (401), or a
	// second factor step without a live challenge.
	LoginBadFactor = "bad_factor"
)

// Outcomes of a refresh.
const (
	// RefreshOK: a new access token, without rotation.
	RefreshOK = "ok"
	// RefreshRotated: a new access token and a new refresh token; the presented one is used up.
	RefreshRotated = "rotated"
	// RefreshReused: a refresh token already rotated was presented again: its family (the
	// session) is now revoked. A security event: the token may have been stolen.
	RefreshReused = "reused"
	// RefreshBlacklisted: the token, or its family, is revoked (401 "Token is blacklisted").
	RefreshBlacklisted = "blacklisted"
	// RefreshExpired: a refresh token past its exp: the session ended by its age (401
	// "Token is invalid or expired", as simplejwt).
	RefreshExpired = "expired"
	// RefreshInvalid: not a valid refresh token: bad signature, wrong type, no id...
	RefreshInvalid = "invalid"
	// RefreshBadRequest: no refresh field, or a body that cannot be read.
	RefreshBadRequest = "bad_request"
	// RefreshUnavailable: the revocation store could not be read or written: 503.
	RefreshUnavailable = "unavailable"
)

// Outcomes of a logout.
const (
	// LogoutOK: the refresh token and its family are revoked.
	LogoutOK = "ok"
	// LogoutNoSession: the logout form was posted without a refresh cookie; cookies cleared.
	LogoutNoSession = "no_session"
	// LogoutInvalid: the token is not a valid refresh token, or is revoked already (blacklist:
	// 401; the logout form clears the cookies anyway).
	LogoutInvalid = "invalid"
	// LogoutBadRequest: blacklist without a refresh field, or with a body that cannot be read.
	LogoutBadRequest = "bad_request"
	// LogoutCrossSite: the logout form posted from another site's page (403).
	LogoutCrossSite = "cross_site"
	// LogoutUnavailable: the revocation store could not be read or written, so the session was
	// not revoked.
	LogoutUnavailable = "unavailable"
)

// Outcomes of a session renewal.
const (
	// SessionRenewed: new cookies were set (within the renewal grace period, the successor of
	// a parallel request's renewal).
	SessionRenewed = "renewed"
	// SessionEnded: the refresh cookie is not a usable refresh token (expired, invalid,
	// revoked); the cookies were cleared.
	SessionEnded = "ended"
	// SessionReused: the refresh cookie was rotated already, outside the grace period: its
	// family is revoked and the cookies were cleared. A security event, as RefreshReused.
	SessionReused = "reused"
	// SessionUnavailable: the revocation store could not be read or written; the session is
	// neither renewed nor ended (503).
	SessionUnavailable = "unavailable"
)

// LoginOutcomes lists every Login outcome (a new slice each call), e.g. to create every metric
// series up front.
func LoginOutcomes() []string {
	return []string{LoginOK, LoginBadCredentials, LoginRateLimited, LoginBusy, LoginUnavailable,
		LoginBadRequest, LoginCrossSite, LoginInsecure, LoginError, LoginFactorNeeded, LoginBadFactor}
}

// RefreshOutcomes lists every Refresh outcome (a new slice each call).
func RefreshOutcomes() []string {
	return []string{RefreshOK, RefreshRotated, RefreshReused, RefreshBlacklisted, RefreshExpired, RefreshInvalid,
		RefreshBadRequest, RefreshUnavailable}
}

// LogoutOutcomes lists every Logout outcome (a new slice each call).
func LogoutOutcomes() []string {
	return []string{LogoutOK, LogoutNoSession, LogoutInvalid, LogoutBadRequest, LogoutCrossSite, LogoutUnavailable}
}

// SessionOutcomes lists every Session outcome (a new slice each call).
func SessionOutcomes() []string {
	return []string{SessionRenewed, SessionEnded, SessionReused, SessionUnavailable}
}

// problemReused is the refusal of a rotated refresh token presented again: simplejwt's
// blacklisted answer, as for any revoked token, but a problem of its own so that the events
// can tell reuse (a possible theft, just detected) from a token revoked before.
var problemReused = &problem{status: problemBlacklisted.status, body: problemBlacklisted.body}

// problemExpired is the refusal of an expired token: simplejwt's invalid-or-expired answer, a
// problem of its own so that the events can tell a session ended by age from a bad token.
var problemExpired = &problem{status: problemInvalidToken.status, body: problemInvalidToken.body}

// noEvents is the Events of a Handler configured without any: nothing is counted.
type noEvents struct{}

func (noEvents) Login(string, time.Duration) {}
func (noEvents) Refresh(string)              {}
func (noEvents) Logout(string)               {}
func (noEvents) Session(string)              {}

// loginOutcome is the outcome of a login answered with p (nil: tokens given).
func loginOutcome(p *problem) string {
	switch {
	case p == nil:
		return LoginOK
	case p == problemBadCredentials:
		return LoginBadCredentials
	case p == problemFactorNeeded || p == problemEnrolFirst:
		return LoginFactorNeeded
	case p == problemBadFactor || p == problemNoChallenge:
		return LoginBadFactor
	case p == problemBusy:
		return LoginBusy
	case p.status == http.StatusTooManyRequests:
		return LoginRateLimited
	case p.status == http.StatusServiceUnavailable:
		return LoginUnavailable
	case p.status == http.StatusForbidden:
		return LoginCrossSite
	case badRequest(p):
		return LoginBadRequest
	}
	return LoginError
}

// refreshOutcome is the outcome of a refresh answered with p; rotated says whether a nil p
// gave a new refresh token too.
func refreshOutcome(p *problem, rotated bool) string {
	switch {
	case p == nil && rotated:
		return RefreshRotated
	case p == nil:
		return RefreshOK
	case p == problemReused:
		return RefreshReused
	case p == problemBlacklisted:
		return RefreshBlacklisted
	case p == problemExpired:
		return RefreshExpired
	case p == problemUnavailable:
		return RefreshUnavailable
	case badRequest(p):
		return RefreshBadRequest
	}
	return RefreshInvalid
}

// logoutOutcome is the outcome of a logout or blacklist answered with p.
func logoutOutcome(p *problem) string {
	switch {
	case p == nil:
		return LogoutOK
	case p == problemUnavailable:
		return LogoutUnavailable
	case badRequest(p):
		return LogoutBadRequest
	}
	return LogoutInvalid
}

// sessionOutcome is the outcome of a session renewal answered with p.
func sessionOutcome(p *problem) string {
	switch {
	case p == nil:
		return SessionRenewed
	case p == problemUnavailable:
		return SessionUnavailable
	case p == problemReused:
		return SessionReused
	}
	return SessionEnded
}

// badRequest reports whether p refuses the request itself rather than its credentials or
// token: a body that is missing fields, unreadable, too large or of the wrong type.
func badRequest(p *problem) bool {
	switch p.status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		return true
	}
	return false
}
