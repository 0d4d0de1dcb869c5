package issuer

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/factor"
	"github.com/gatehouse-dev/gatehouse/internal/session"
)

// Messages of the login page. They say what to do, and never which of username and password
// was wrong.
const (
	msgBadCredentials = "The username or password is not right. Try again."
	msgIncomplete     = "Enter your username and password."
	msgUnavailable    = "Signing in is not possible right now. Try again in a minute."
	msgCrossSite      = "This form was sent from another site, so it was refused. Open the login page of this site and sign in there."
	msgInsecure       = "Signing in needs a secure (https) connection to this site."
	msgFailed         = "Signing in failed. Try again later."
	msgLogoutFailed   = "Signing out is not possible right now, so you are still signed in. Try again in a minute."
)

// loginPage serves GET and HEAD <base>/login: the form, with next taken from the query.
func (s *Sessions) loginPage(w http.ResponseWriter, r *http.Request) {
	s.page(w, r, http.StatusOK, LoginPageData{
		Action: s.h.base + session.LoginPath,
		Next:   s.Next(r.URL.Query().Get("next")),
	})
}

// login serves POST <base>/login: the form's username and password are checked as the JSON
// endpoint checks them (the same limits, the same users), and on success the browser gets the
// session cookies and is sent on to next with 303 See Other (a GET, so a reload does not post
// the password again).
func (s *Sessions) login(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	outcome, answer := s.decideLogin(w, r)
	// Counted before the answer goes out: a client holding its answer finds it counted.
	s.h.events.Login(outcome, time.Since(start))
	answer()
}

// decideLogin decides a login form post: its outcome (a Login* constant), and answer, which
// writes the answer to w.
func (s *Sessions) decideLogin(w http.ResponseWriter, r *http.Request) (outcome string, answer func()) {
	h := s.h
	d := LoginPageData{Action: h.base + session.LoginPath, Next: "/"}
	if !s.FromSite(r) {
		// Login CSRF: another site could otherwise sign the browser in as the attacker's account.
		h.log.Debug("login refused", zap.String("reason", "cross-site request"), zap.String("client_ip", h.clientIP(r)))
		d.Error = msgCrossSite
		return LoginCrossSite, func() { s.page(w, r, http.StatusForbidden, d) }
	}
	if session.Insecure(r) {
		d.Error = msgInsecure
		return LoginInsecure, func() { s.page(w, r, http.StatusBadRequest, d) }
	}
	ip := h.clientIP(r)
	if p := h.allowFrom(r.Context(), ip); p != nil {
		return loginOutcome(p), func() { s.refused(w, r, d, p) }
	}
	f, p := readFields(r)
	if p == nil {
		if v, ok := f["next"]; ok && v.kind == textValue {
			d.Next = s.Next(v.text)
		}
		if v, ok := f["username"]; ok && v.kind == textValue {
			d.Username = v.text
		}
		var vals []string
		if vals, p = f.charFields("username", "password"); p == nil {
			if h.factors != nil {
				return s.loginWithFactor(w, r, d, ip, vals[0], vals[1])
			}
			access, refresh, p := h.authenticate(r.Context(), ip, vals[0], vals[1])
			if p != nil {
				return loginOutcome(p), func() { s.refused(w, r, d, p) }
			}
			return LoginOK, func() {
				s.cookies.Set(w, r, s.now(), access.Raw, access.Exp, refresh.Raw, refresh.Exp)
				http.Redirect(w, r, d.Next, http.StatusSeeOther)
			}
		}
	}
	h.log.Debug("login refused", zap.String("reason", "bad request"), zap.String("client_ip", ip))
	return loginOutcome(p), func() { s.refused(w, r, d, p) }
}

// loginWithFactor decides a login form post with second factors on: a user who needs none
// gets the session (amr pwd); one who does, only a challenge (see startChallenge).
func (s *Sessions) loginWithFactor(w http.ResponseWriter, r *http.Request, d LoginPageData, ip, username, password string) (string, func()) {
	h := s.h
	id, p := h.checkPassword(r.Context(), ip, username, password)
	if p != nil {
		return loginOutcome(p), func() { s.refused(w, r, d, p) }
	}
	need, _, p := h.factorNeed(r.Context(), id.Username)
	if p != nil {
		return loginOutcome(p), func() { s.refused(w, r, d, p) }
	}
	if need == needNone {
		access, refresh, p := h.mintPair(id, amrPassword)
		if p != nil {
			return loginOutcome(p), func() { s.refused(w, r, d, p) }
		}
		return LoginOK, func() {
			s.cookies.Set(w, r, s.now(), access.Raw, access.Exp, refresh.Raw, refresh.Exp)
			http.Redirect(w, r, d.Next, http.StatusSeeOther)
		}
	}
	raw, err := json.Marshal(id)
	if err != nil {
		h.log.Error("login failed: the identity cannot be encoded", zap.Error(err))
		return LoginError, func() { s.refused(w, r, d, problemServerError) }
	}
	// The challenge is stored now, so that its outcome is decided before the answer goes out.
	c := factor.Challenge{Username: id.Username, Identity: raw, Next: d.Next, Enrol: need == needEnrol}
	cookie, err := h.factors.Store.NewChallenge(r.Context(), c)
	if err != nil {
		return LoginUnavailable, func() { s.refused(w, r, d, problemUnavailable) }
	}
	return LoginFactorNeeded, func() {
		s.setChallenge(w, r, cookie)
		to := h.base + verifyPath
		if need == needEnrol {
			to = h.base + factorsPath
		}
		http.Redirect(w, r, to, http.StatusSeeOther)
	}
}

// refused shows the form again with what went wrong, in the status the JSON endpoint would
// have answered.
func (s *Sessions) refused(w http.ResponseWriter, r *http.Request, d LoginPageData, p *problem) {
	switch p.status {
	case http.StatusUnauthorized:
		d.Error = msgBadCredentials
	case http.StatusTooManyRequests:
		d.Error = "Too many sign-in attempts. Try again in " + strconv.Itoa(p.retryAfter) + " seconds."
		w.Header().Set("Retry-After", strconv.Itoa(p.retryAfter))
	case http.StatusServiceUnavailable:
		d.Error = msgUnavailable
		if p.retryAfter > 0 { // the login queue is full
			w.Header().Set("Retry-After", strconv.Itoa(p.retryAfter))
		}
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		d.Error = msgIncomplete
	default:
		d.Error = msgFailed
	}
	s.page(w, r, p.status, d)
}

// logout serves POST <base>/logout: it revokes the refresh cookie's token and its family (as
// blacklist does), clears both cookies and sends the browser to next, or to the login page.
// The access token, which no store is asked about, stays valid for what is left of its few
// minutes; the cookie holding it is gone.
func (s *Sessions) logout(w http.ResponseWriter, r *http.Request) {
	h := s.h
	if !s.FromSite(r) {
		// Logout CSRF: another site could otherwise end the user's session at will.
		h.log.Debug("logout refused", zap.String("reason", "cross-site request"), zap.String("client_ip", h.clientIP(r)))
		h.events.Logout(LogoutCrossSite)
		s.page(w, r, http.StatusForbidden, LoginPageData{Action: h.base + session.LoginPath, Next: "/", Error: msgCrossSite})
		return
	}
	next := h.base + session.LoginPath
	if v := r.URL.Query().Get("next"); v != "" {
		next = s.Next(v)
	} else if f, p := readFields(r); p == nil {
		if v, ok := f["next"]; ok && v.kind == textValue && v.text != "" {
			next = s.Next(v.text)
		}
	}
	outcome := LogoutNoSession
	if raw, ok := session.Value(r, s.cookies.Refresh); ok {
		t, p := h.check(r.Context(), "logout", raw, h.refreshTokens)
		if p == nil {
			p = h.revoke(r.Context(), "logout", t)
		}
		if p != nil && p.status == http.StatusServiceUnavailable {
			// The session could not be checked or ended where it counts (the store is down):
			// say so, keep the cookies (a retry can still end it) and do not pretend the user
			// is logged out while the refresh token stays valid.
			h.events.Logout(logoutOutcome(p))
			s.page(w, r, p.status, LoginPageData{Action: h.base + session.LoginPath, Next: "/", Error: msgLogoutFailed})
			return
		}
		outcome = logoutOutcome(p)
	}
	h.events.Logout(outcome)
	s.cookies.Clear(w, r)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// revoke blacklists a verified refresh token and its whole family, so that logging out ends
// the session whichever of its refresh tokens the client held.
func (h *Handler) revoke(ctx context.Context, endpoint string, t *presentedToken) *problem {
	// The family first: should the second write fail, a retry finds the token refused and the
	// session already over, rather than its id blacklisted and its successors still valid.
	if err := h.store.RevokeFamily(ctx, t.family, t.exp); err != nil {
		return h.storeProblem(endpoint, err)
	}
	if err := h.store.Revoke(ctx, t.jti, t.exp); err != nil {
		return h.storeProblem(endpoint, err)
	}
	return nil
}
