package issuer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/factor"
	"github.com/gatehouse-dev/gatehouse/internal/mint"
	"github.com/gatehouse-dev/gatehouse/internal/users"
)

// FactorConfig turns on second factors: one-time codes (TOTP) and recovery codes, enrolled
// from a session and asked after the password.
type FactorConfig struct {
	// Store keeps the enrolled factors and the login challenges (required).
	Store *factor.Store
	// Policy says who must (Required), may (Optional) or need not (Off) use one.
	Policy factor.Policy
	// Passkeys turns on passkeys (WebAuthn): registered from a session, used after the
	// password or, with Directory, alone.
	Passkeys bool
	// RPID is the passkeys' relying party id; "" means the host the browser used. This is the
	// hook for single sign-on across subdomains: set it to the shared cookie domain.
	RPID string
	// Directory finds the user a discoverable passkey names, for a login with the passkey
	// alone; nil (users from credentials_url) allows passkeys only after the password.
	Directory users.Directory
}

// The amr values (RFC 8176) of tokens minted with second factors on.
const (
	amrPassword = "pwd"
	amrOTP      = "otp"
)

// The refusals of the second factor, in simplejwt's shape ({"detail", "code"}).
var (
	problemFactorNeeded = &problem{status: http.StatusUnauthorized, body: []byte(
		`{"detail":"This account needs a second factor: send the one-time code of your authenticator app in the otp field.","code":"otp_required"}`)}
	problemBadFactor = &problem{status: http.StatusUnauthorized, body: []byte(
		`{"detail":"The one-time code is not valid.","code":"otp_invalid"}`)}
	problemEnrolFirst = &problem{status: http.StatusUnauthorized, body: []byte(
		`{"detail":"This account must set up a second factor first: sign in on the login page to do so.","code":"second_factor_enrolment_required"}`)}
	problemNoChallenge = &problem{status: http.StatusUnauthorized, body: []byte(
		`{"detail":"The sign-in has expired or was used already; start again with the password.","code":"challenge_invalid"}`)}
)

// factorNeed is what a login needs after a right password.
type factorNeed int

const (
	needNone   factorNeed = iota // the password is enough
	needVerify                   // a code (or passkey) of an enrolled factor
	needEnrol                    // the user must enrol one first (second_factor required)
)

// factorNeed decides what the login of username needs after its password.
func (h *Handler) factorNeed(ctx context.Context, username string) (factorNeed, factor.Status, *problem) {
	mode := h.factors.Policy.For(username)
	if mode == factor.Off {
		return needNone, factor.Status{}, nil
	}
	st, err := h.factors.Store.Status(ctx, username)
	if err != nil {
		return needNone, st, problemUnavailable
	}
	switch {
	case st.Enrolled():
		return needVerify, st, nil
	case mode == factor.Required:
		return needEnrol, st, nil
	}
	return needNone, st, nil
}

// obtainWithFactor is the JSON login with second factors on: after the password, a user who
// needs a factor must send a valid one-time code in the otp field (a recovery code is for the
// login page, where a person types it).
func (h *Handler) obtainWithFactor(ctx context.Context, ip string, f fields, username, password string) (access, refresh mint.Token, p *problem) {
	id, p := h.checkPassword(ctx, ip, username, password)
	if p != nil {
		return access, refresh, p
	}
	need, _, p := h.factorNeed(ctx, id.Username)
	switch {
	case p != nil:
		return access, refresh, p
	case need == needNone:
		return h.mintPair(id, amrPassword)
	case need == needEnrol:
		h.log.Debug("login refused", zap.String("reason", "second factor not enrolled"), zap.String("username", username),
			zap.String("client_ip", ip))
		return access, refresh, problemEnrolFirst
	}
	v, ok := f["otp"]
	if !ok {
		h.log.Debug("login refused", zap.String("reason", "second factor missing"), zap.String("username", username),
			zap.String("client_ip", ip))
		return access, refresh, problemFactorNeeded
	}
	code := ""
	if v.kind == textValue {
		code = strings.TrimFunc(v.text, isPySpace)
	}
	if p := h.checkCode(ctx, ip, id.Username, code, false); p != nil {
		return access, refresh, p
	}
	return h.mintPair(id, amrPassword, amrOTP)
}

// checkCode checks a one-time (or, with allowRecovery, recovery) code of username (see
// guardCode).
func (h *Handler) checkCode(ctx context.Context, ip, username, code string, allowRecovery bool) *problem {
	return h.guardCode(ctx, ip, username, func() error {
		_, err := h.factors.Store.CheckCode(ctx, username, code, allowRecovery)
		return err
	})
}

// guardCode runs check, a check of a code of username, within the limits that guard passwords:
// the attempt must be within the username's limits (from this IP, and from everywhere), and it
// keeps counting there unless the code is accepted. Neither the code nor anything about it but
// the kind of refusal is logged.
func (h *Handler) guardCode(ctx context.Context, ip, username string, check func() error) *problem {
	refund, p := h.reserveUser(ctx, ip, username)
	if p != nil {
		return p
	}
	err := check()
	switch {
	case err == nil:
		refund()
		return nil
	case errors.Is(err, factor.ErrUnavailable):
		refund()
		return problemUnavailable
	case errors.Is(err, factor.ErrMalformed), errors.Is(err, factor.ErrWrong), errors.Is(err, factor.ErrReplayed),
		errors.Is(err, factor.ErrNotEnrolled), errors.Is(err, factor.ErrEnrolled):
		h.log.Debug("second factor refused", zap.String("reason", err.Error()), zap.String("username", username),
			zap.String("client_ip", ip))
		return problemBadFactor
	}
	refund()
	h.log.Error("second factor check failed", zap.Error(err))
	return problemUnavailable
}

// reserveUser counts an attempt for username against the per-(username, IP) and per-username
// limits, as a password attempt does; refund gives it back (the attempt succeeded).
func (h *Handler) reserveUser(ctx context.Context, ip, username string) (refund func(), p *problem) {
	limits := [...]struct {
		lim        Limit
		key, label string
	}{
		{h.userIPLimit, userIPKey(username, ip), "username_client_ip"},
		{h.userLimit, userKey(username), "username"},
	}
	var refunds []func()
	refund = func() {
		for _, f := range refunds {
			f()
		}
	}
	for _, l := range limits {
		if l.lim == nil {
			continue
		}
		f, ok, wait, err := l.lim.Reserve(ctx, l.key)
		if err != nil {
			refund()
			h.log.Debug("login refused: the login limit cannot be counted", zap.String("limit", l.label), zap.Error(err))
			return nil, problemUnavailable
		}
		if !ok {
			refund()
			h.log.Debug("login throttled", zap.String("limit", l.label), zap.String("username", username),
				zap.String("client_ip", ip))
			return nil, throttled(wait)
		}
		refunds = append(refunds, f)
	}
	return refund, nil
}

// identityOf decodes the identity a challenge carries, numbers kept exact.
func identityOf(c *factor.Challenge) (users.Identity, error) {
	var id users.Identity
	dec := json.NewDecoder(bytes.NewReader(c.Identity))
	dec.UseNumber()
	err := dec.Decode(&id)
	return id, err
}
