package issuer

import (
	_ "embed"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/factor"
	"github.com/gatehouse-dev/gatehouse/internal/mint"
	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// The passkey endpoints, under the issuer's base path: JSON in and out, for webauthn.js.
const (
	passkeyScriptPath     = "/factors/webauthn.js"
	passkeyRegisterPath   = "/factors/passkey/begin"
	passkeyRegisteredPath = "/factors/passkey/finish"
	passkeyLoginPath      = "/login/passkey/begin"
	passkeyLoggedInPath   = "/login/passkey/finish"
	// maxPasskeyBody bounds a browser's WebAuthn answer (attestation objects are a few KB).
	maxPasskeyBody = 64 << 10
)

// passkeyScript is the page script that runs the browser's side of the ceremonies.
//
//go:embed webauthn.js
var passkeyScript []byte

// amrMFA is added to a login with a passkey alone: RFC 8176's "mfa", as a discoverable passkey
// with user verification is possession and a PIN or biometric at once.
const amrMFA = "mfa"

// rp is the relying party of r: the configured id (single sign-on across subdomains), else the
// host the browser used; the origin is the site's own, compared exactly.
func (s *Sessions) rp(r *http.Request) factor.RP {
	id := s.h.factors.RPID
	if id == "" {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		id = strings.TrimSuffix(strings.ToLower(host), ".")
	}
	return factor.RP{ID: id, Origin: session.SiteOrigin(r)}
}

// passkeyJSON answers a passkey endpoint with the status and JSON body of a ceremony step.
func (s *Sessions) passkeyJSON(w http.ResponseWriter, status int, body []byte) {
	s.h.write(w, status, body)
}

func passkeyError(status int, msg string) (int, []byte) {
	b := append([]byte(`{"detail":`), jsonString(msg)...)
	return status, append(b, '}')
}

// servePasskey routes the passkey endpoints; it reports false for a path that is not one.
func (s *Sessions) servePasskey(w http.ResponseWriter, r *http.Request, rest string) bool {
	if !s.h.factors.Passkeys {
		return false
	}
	switch rest {
	case passkeyScriptPath:
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			s.h.fail(w, methodNotAllowed(r.Method, "GET, HEAD"))
			return true
		}
		hd := w.Header()
		hd.Set("Content-Type", "text/javascript; charset=utf-8")
		hd.Set("Content-Length", strconv.Itoa(len(passkeyScript)))
		hd.Set("Cache-Control", "no-cache")
		hd.Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = w.Write(passkeyScript)
		}
		return true
	case passkeyRegisterPath, passkeyRegisteredPath, passkeyLoginPath, passkeyLoggedInPath:
	default:
		return false
	}
	if r.Method != http.MethodPost {
		s.h.fail(w, methodNotAllowed(r.Method, http.MethodPost))
		return true
	}
	if !s.FromSite(r) {
		s.h.log.Debug("passkey refused", zap.String("reason", "cross-site request"), zap.String("client_ip", s.h.clientIP(r)))
		st, b := passkeyError(http.StatusForbidden, msgCrossSite)
		s.passkeyJSON(w, st, b)
		return true
	}
	if session.Insecure(r) {
		st, b := passkeyError(http.StatusBadRequest, msgInsecure)
		s.passkeyJSON(w, st, b)
		return true
	}
	switch rest {
	case passkeyRegisterPath:
		st, b := s.registerBegin(r)
		s.passkeyJSON(w, st, b)
	case passkeyRegisteredPath:
		st, b := s.registerFinish(r)
		s.passkeyJSON(w, st, b)
	case passkeyLoginPath:
		st, b := s.passkeyLoginBegin(w, r)
		s.passkeyJSON(w, st, b)
	case passkeyLoggedInPath:
		start := s.now()
		status, body, outcome := s.passkeyLoginFinish(w, r)
		s.h.events.Login(outcome, s.now().Sub(start))
		s.passkeyJSON(w, status, body)
	}
	return true
}

// sessionUser is the user of r's session (refresh cookie), or "".
func (s *Sessions) sessionUser(r *http.Request) (string, *problem) {
	raw, ok := session.Value(r, s.cookies.Refresh)
	if !ok {
		return "", nil
	}
	t, p := s.h.check(r.Context(), "factors", raw, s.h.refreshTokens)
	if p == problemUnavailable {
		return "", p
	}
	if p != nil {
		return "", nil
	}
	if v, ok := t.claims.Get(mint.UsernameClaim); ok && v.Kind == token.String && v.Text != "" {
		return v.Text, nil
	}
	return "", nil
}

// registerBegin serves POST <base>/factors/passkey/begin: a signed-in user starts registering
// a passkey.
func (s *Sessions) registerBegin(r *http.Request) (int, []byte) {
	user, p := s.sessionUser(r)
	switch {
	case p != nil:
		return passkeyError(http.StatusServiceUnavailable, msgFactorFailed)
	case user == "":
		return passkeyError(http.StatusUnauthorized, msgNoSession)
	}
	opts, err := s.h.factors.Store.BeginRegistration(r.Context(), user, s.rp(r))
	return s.passkeyResult(opts, err)
}

// registerFinish serves POST <base>/factors/passkey/finish: the browser's new credential.
func (s *Sessions) registerFinish(r *http.Request) (int, []byte) {
	user, p := s.sessionUser(r)
	switch {
	case p != nil:
		return passkeyError(http.StatusServiceUnavailable, msgFactorFailed)
	case user == "":
		return passkeyError(http.StatusUnauthorized, msgNoSession)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPasskeyBody+1))
	if err != nil || len(body) > maxPasskeyBody {
		return passkeyError(http.StatusBadRequest, "The passkey's answer is too large or unreadable.")
	}
	if err := s.h.factors.Store.FinishRegistration(r.Context(), user, s.rp(r), body); err != nil {
		return s.passkeyResult(nil, err)
	}
	s.h.log.Info("second factor enrolled", zap.String("factor", "passkey"), zap.String("username", user))
	return http.StatusOK, []byte(`{"registered":true}`)
}

// passkeyResult answers a ceremony step: options, or the refusal of err.
func (s *Sessions) passkeyResult(opts []byte, err error) (int, []byte) {
	switch {
	case err == nil:
		return http.StatusOK, opts
	case errors.Is(err, factor.ErrUnavailable):
		return passkeyError(http.StatusServiceUnavailable, msgFactorFailed)
	case errors.Is(err, factor.ErrNotEnrolled):
		return passkeyError(http.StatusBadRequest, "No passkey is registered for this account.")
	case errors.Is(err, factor.ErrPasskey), errors.Is(err, factor.ErrCounter):
		s.h.log.Debug("passkey refused", zap.Error(err))
		return passkeyError(http.StatusBadRequest, "The passkey could not be verified.")
	}
	s.h.log.Error("passkey failed", zap.Error(err))
	return passkeyError(http.StatusServiceUnavailable, msgFactorFailed)
}

// passkeyLoginBegin serves POST <base>/login/passkey/begin: after the password (a live
// challenge), a passkey of that user as the second factor; without one, a login with a
// discoverable passkey alone, for which a new challenge is made (?next= says where to go).
func (s *Sessions) passkeyLoginBegin(w http.ResponseWriter, r *http.Request) (int, []byte) {
	h := s.h
	if p := h.allowFrom(r.Context(), h.clientIP(r)); p != nil {
		if p.retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(p.retryAfter))
		}
		return p.status, p.body
	}
	rp := s.rp(r)
	if c, cookie, err := s.challenge(r); err == nil && c.Username != "" && !c.Enrol {
		opts, state, err := h.factors.Store.BeginLogin(r.Context(), c.Username, rp)
		if err != nil {
			return s.passkeyResult(nil, err)
		}
		if err := h.factors.Store.SetChallengeWebAuthn(r.Context(), cookie, state); err != nil {
			return s.passkeyResult(nil, err)
		}
		return http.StatusOK, opts
	} else if errors.Is(err, factor.ErrUnavailable) {
		return s.passkeyResult(nil, err)
	}
	if h.factors.Directory == nil {
		return passkeyError(http.StatusBadRequest, "Signing in with a passkey alone is not possible here: sign in with your password first.")
	}
	opts, state, err := h.factors.Store.BeginLogin(r.Context(), "", rp)
	if err != nil {
		return s.passkeyResult(nil, err)
	}
	cookie, err := h.factors.Store.NewChallenge(r.Context(), factor.Challenge{
		WebAuthn: state, Next: session.SafeNext(r.URL.Query().Get("next"), h.base)})
	if err != nil {
		return s.passkeyResult(nil, err)
	}
	s.setChallenge(w, r, cookie)
	return http.StatusOK, opts
}

// passkeyLoginFinish serves POST <base>/login/passkey/finish: the browser's assertion. The
// challenge is used up first, whatever the outcome (one try per ceremony); a refused passkey
// after a password counts against the user's limits as a wrong code does.
func (s *Sessions) passkeyLoginFinish(w http.ResponseWriter, r *http.Request) (int, []byte, string) {
	h := s.h
	ip := h.clientIP(r)
	if p := h.allowFrom(r.Context(), ip); p != nil {
		if p.retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(p.retryAfter))
		}
		return p.status, p.body, loginOutcome(p)
	}
	cookie, ok := session.Value(r, challengeCookie)
	if !ok {
		st, b := passkeyError(http.StatusUnauthorized, msgChallengeGone)
		return st, b, LoginBadFactor
	}
	c, err := h.factors.Store.EndChallenge(r.Context(), cookie)
	s.setChallenge(w, r, "")
	if err != nil || len(c.WebAuthn) == 0 {
		if errors.Is(err, factor.ErrUnavailable) {
			st, b := passkeyError(http.StatusServiceUnavailable, msgFactorFailed)
			return st, b, LoginUnavailable
		}
		st, b := passkeyError(http.StatusUnauthorized, msgChallengeGone)
		return st, b, LoginBadFactor
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPasskeyBody+1))
	if err != nil || len(body) > maxPasskeyBody {
		st, b := passkeyError(http.StatusBadRequest, "The passkey's answer is too large or unreadable.")
		return st, b, LoginBadRequest
	}
	var user, method string
	if c.Username != "" {
		p := h.guardCode(r.Context(), ip, c.Username, func() error {
			var err error
			user, method, err = h.factors.Store.FinishLogin(r.Context(), c.Username, s.rp(r), c.WebAuthn, body)
			if errors.Is(err, factor.ErrPasskey) || errors.Is(err, factor.ErrCounter) {
				h.log.Debug("passkey refused", zap.Error(err))
				return factor.ErrWrong
			}
			return err
		})
		if p != nil {
			return s.passkeyProblem(p)
		}
	} else {
		user, method, err = h.factors.Store.FinishLogin(r.Context(), "", s.rp(r), c.WebAuthn, body)
		if err != nil {
			st, b := s.passkeyResult(nil, err)
			if st == http.StatusBadRequest {
				st = http.StatusUnauthorized
			}
			return st, b, LoginBadFactor
		}
	}
	var amr []string
	id, err := identityOf(c)
	switch {
	case c.Username != "" && err == nil:
		amr = []string{amrPassword, method}
	case c.Username != "":
		h.log.Error("second factor: the challenge's identity does not decode", zap.Error(err))
		return s.passkeyProblem(problemServerError)
	default:
		found := false
		if id, found = h.factors.Directory.Lookup(user); !found {
			h.log.Debug("passkey refused", zap.String("reason", "the user is no longer configured"))
			st, b := passkeyError(http.StatusUnauthorized, "The passkey could not be verified.")
			return st, b, LoginBadFactor
		}
		amr = []string{method, amrMFA}
	}
	access, refresh, p := h.mintPair(id, amr...)
	if p != nil {
		return s.passkeyProblem(p)
	}
	s.cookies.Set(w, r, s.now(), access.Raw, access.Exp, refresh.Raw, refresh.Exp)
	next := c.Next
	if next == "" {
		next = "/"
	}
	b, _ := json.Marshal(map[string]string{"next": next})
	return http.StatusOK, b, LoginOK
}

func (s *Sessions) passkeyProblem(p *problem) (int, []byte, string) {
	if p == problemBadFactor {
		st, b := passkeyError(http.StatusUnauthorized, "The passkey could not be verified.")
		return st, b, LoginBadFactor
	}
	return p.status, p.body, loginOutcome(p)
}
