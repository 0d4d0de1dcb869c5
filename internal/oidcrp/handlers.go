package oidcrp

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"html"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
	"golang.org/x/oauth2"

	"github.com/gatehouse-dev/gatehouse/internal/mint"
	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/token"
	"github.com/gatehouse-dev/gatehouse/internal/verify"
)

// Reasons of the callback's and logout's refusals, shown on the error page and given to Refused.
const (
	ReasonInvalidRequest      = "invalid_request"      // a parameter missing or sent twice; no login in progress
	ReasonInvalidState        = "invalid_state"        // state is not the one this browser was given
	ReasonInvalidIssuer       = "invalid_issuer"       // iss (RFC 9207) is not the provider's
	ReasonProviderError       = "provider_error"       // the provider answered with an error (Core §3.1.2.6)
	ReasonInvalidGrant        = "invalid_grant"        // the token endpoint refused the code
	ReasonInvalidIDToken      = "invalid_id_token"     // no ID token, or one that does not verify
	ReasonInvalidNonce        = "invalid_nonce"        // the ID token's nonce is not this browser's
	ReasonProviderUnavailable = "provider_unavailable" // the provider could not be reached
	ReasonCrossSite           = "cross_site_request"   // a logout posted from another site
	ReasonMethod              = "method_not_allowed"
)

// Session returns the claims of r's session cookie. found is false when r has no session
// cookie; err is the refusal of one that does not verify (expired, another key, claim rules).
func (rp *RP) Session(r *http.Request) (claims *token.Claims, found bool, err error) {
	raw, ok := session.Value(r, rp.cfg.Cookie)
	if !ok {
		return nil, false, nil
	}
	claims, err = rp.sessions.Verify(r.Context(), raw)
	return claims, true, err
}

// HasSession reports whether r carries the session cookie (verified or not).
func (rp *RP) HasSession(r *http.Request) bool {
	_, ok := session.Value(r, rp.cfg.Cookie)
	return ok
}

// Login sends the browser to the provider's authorization endpoint: a new state, nonce and PKCE
// verifier go into the flow cookie, and the page r asked for (a path of this site) is where the
// browser comes back to. With the provider unreachable it answers 503.
func (rp *RP) Login(w http.ResponseWriter, r *http.Request) {
	d, err := rp.discovered(r.Context())
	if err != nil {
		rp.log.Warn("cannot send the browser to the OpenID provider", zap.String("issuer", rp.cfg.Issuer), zap.Error(err))
		w.Header().Set("Retry-After", "5")
		rp.page(w, r, http.StatusServiceUnavailable, ReasonProviderUnavailable, "The sign-in service cannot be reached. Try again in a minute.")
		return
	}
	target := r.RequestURI
	if !strings.HasPrefix(target, "/") {
		target = r.URL.RequestURI()
	}
	next := session.SafeNext(target, rp.cfg.CallbackPath)
	if next == rp.cfg.LogoutPath || strings.HasPrefix(next, rp.cfg.LogoutPath+"?") {
		next = "/"
	}
	f := &flow{
		State:       randomString(),
		Nonce:       randomString(),
		Verifier:    oauth2.GenerateVerifier(),
		RedirectURI: siteOrigin(r) + rp.cfg.CallbackPath,
		Next:        next,
		Exp:         rp.now().Add(flowTTL).Unix(),
	}
	if err := rp.setFlow(w, r, f); err != nil {
		rp.page(w, r, http.StatusInternalServerError, "internal_error", "Signing in is not possible right now.")
		return
	}
	u := rp.oauth2Config(d, f.RedirectURI).AuthCodeURL(f.State,
		oauth2.SetAuthURLParam("nonce", f.Nonce), oauth2.S256ChallengeOption(f.Verifier))
	w.Header().Set("Location", u)
	w.WriteHeader(http.StatusFound)
}

// siteOrigin is the origin r was sent to, as the browser sees it.
func siteOrigin(r *http.Request) string {
	if session.HTTPS(r) {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

// ServeCallback answers the provider's redirect back (the authorization response, OpenID
// Connect Core §3.1.2.5 and §3.1.2.6): every refusal is a 4xx page naming what was wrong (502
// when the provider's token endpoint cannot be reached), never a redirect; success sets the
// session cookie and sends the browser on to the page it first asked for (303).
func (rp *RP) ServeCallback(w http.ResponseWriter, r *http.Request) {
	// GET only: a HEAD (a link checker, a prefetch) must not use up the code.
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		rp.page(w, r, http.StatusMethodNotAllowed, ReasonMethod, "The sign-in answer must come as a GET request.")
		return
	}
	status, reason, desc := rp.callback(w, r)
	if reason != "" {
		if c := rp.log.Check(zap.DebugLevel, "oidc callback refused"); c != nil {
			c.Write(zap.String("reason", reason), zap.String("description", desc))
		}
		rp.page(w, r, status, reason, desc)
	}
}

// callback does the work of ServeCallback; a reason is a refusal, to be shown with status.
func (rp *RP) callback(w http.ResponseWriter, r *http.Request) (status int, reason, desc string) {
	q := r.URL.Query()
	for _, name := range []string{"state", "code", "error", "iss", "error_description"} {
		if len(q[name]) > 1 {
			return http.StatusBadRequest, ReasonInvalidRequest, "The sign-in answer has the parameter " + name + " more than once."
		}
	}
	state := q.Get("state")
	if state == "" {
		return http.StatusBadRequest, ReasonInvalidRequest, "The sign-in answer has no state."
	}
	f := rp.readFlow(r, state)
	if f == nil {
		if rp.otherFlows(r, state) {
			return http.StatusBadRequest, ReasonInvalidState, "The sign-in answer is not for the sign-in this browser started (state does not match)."
		}
		return http.StatusBadRequest, ReasonInvalidRequest, "No sign-in is in progress in this browser: it took longer than 10 minutes, was finished already, or cookies are blocked. Open the page you wanted again."
	}
	rp.clearFlow(w, r, state) // a flow is used once, whatever happens next
	if iss := q.Get("iss"); iss != "" && iss != rp.cfg.Issuer {
		return http.StatusBadRequest, ReasonInvalidIssuer, "The sign-in answer comes from another provider (iss does not match)."
	}
	if e := q.Get("error"); e != "" {
		return providerErrorStatus(e), ReasonProviderError, "The sign-in service refused: " + printable(e, 64) + "."
	}
	code := q.Get("code")
	if code == "" {
		return http.StatusBadRequest, ReasonInvalidRequest, "The sign-in answer has no code."
	}
	if f.RedirectURI != siteOrigin(r)+rp.cfg.CallbackPath {
		return http.StatusBadRequest, ReasonInvalidRequest, "The sign-in answer came to another site than the one that started it."
	}
	d, err := rp.discovered(r.Context())
	if err != nil {
		return http.StatusBadGateway, ReasonProviderUnavailable, "The sign-in service cannot be reached. Try again in a minute."
	}
	ctx, cancel := context.WithTimeout(context.WithValue(r.Context(), oauth2.HTTPClient, rp.client), providerTimeout)
	defer cancel()
	tok, err := rp.oauth2Config(d, f.RedirectURI).Exchange(ctx, code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode >= 400 && re.Response.StatusCode < 500 {
			code := re.ErrorCode
			if code == "" {
				code = "invalid_grant"
			}
			return http.StatusBadRequest, ReasonInvalidGrant, "The sign-in service refused the code: " + printable(code, 64) + ". Open the page you wanted again."
		}
		rp.log.Warn("the OpenID provider's token endpoint failed", zap.String("issuer", rp.cfg.Issuer), zap.Error(err))
		return http.StatusBadGateway, ReasonProviderUnavailable, "The sign-in service cannot be reached. Try again in a minute."
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		return http.StatusUnauthorized, ReasonInvalidIDToken, "The sign-in service gave no ID token (is the openid scope allowed for this client?)."
	}
	idt, err := d.verifier.Verify(ctx, rawID)
	if err != nil {
		rp.log.Debug("ID token refused", zap.String("issuer", rp.cfg.Issuer), zap.Error(err))
		return http.StatusUnauthorized, ReasonInvalidIDToken, "The sign-in service's ID token is not valid for this site: " + idTokenProblem(err) + "."
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.Nonce)) != 1 {
		return http.StatusUnauthorized, ReasonInvalidNonce, "The ID token is not for the sign-in this browser started (nonce does not match)."
	}
	var all map[string]json.RawMessage
	if err := idt.Claims(&all); err != nil {
		return http.StatusUnauthorized, ReasonInvalidIDToken, "The ID token's claims cannot be read."
	}
	// Several audiences: the token must have been issued to this client (Core §3.1.3.7, azp).
	if len(idt.Audience) > 1 {
		var azp string
		if json.Unmarshal(all["azp"], &azp) != nil || azp != rp.cfg.ClientID {
			return http.StatusUnauthorized, ReasonInvalidIDToken, "The sign-in service's ID token is not valid for this site: it was issued to another client (azp)."
		}
	}
	raw, exp, err := rp.mintSession(idt.Subject, all)
	if err != nil {
		return http.StatusUnauthorized, ReasonInvalidIDToken, "The ID token's claims cannot be kept in a session: " + err.Error() + "."
	}
	rp.setSession(w, r, raw, exp)
	w.Header().Set("Location", f.Next)
	w.WriteHeader(http.StatusSeeOther)
	return 0, "", ""
}

// providerErrorStatus is the status of the page shown for the provider's error code: the user
// said no (403), the provider wants an interaction the flow did not allow (401), or the request
// was wrong (400).
func providerErrorStatus(code string) int {
	switch code {
	case "access_denied":
		return http.StatusForbidden
	case "login_required", "interaction_required", "consent_required", "account_selection_required":
		return http.StatusUnauthorized
	}
	return http.StatusBadRequest
}

// idTokenProblem names, in a few words, why go-oidc refused an ID token.
func idTokenProblem(err error) string {
	s := err.Error()
	switch {
	case strings.Contains(s, "expected audience"):
		return "its audience is another client"
	case strings.Contains(s, "different provider"):
		return "its issuer is another provider"
	case strings.Contains(s, "expired"):
		return "it has expired"
	case strings.Contains(s, "signature"), strings.Contains(s, "signing"):
		return "its signature does not verify with the provider's keys"
	}
	return "it is malformed"
}

// mintSession mints the session token of a verified ID token: sub, the provider (idp) and the
// mapped claims, for AccessTTL.
func (rp *RP) mintSession(sub string, idClaims map[string]json.RawMessage) (string, time.Time, error) {
	if sub == "" {
		return "", time.Time{}, errors.New("it has no sub")
	}
	claims := map[string]json.RawMessage{}
	str := func(s string) json.RawMessage { b, _ := json.Marshal(s); return b }
	claims["token_type"] = str(sessionType)
	claims["iss"] = str(sessionIssuer)
	claims["aud"] = str(rp.cfg.ClientID)
	claims["sub"] = str(sub)
	claims["idp"] = str(rp.cfg.Issuer)
	for _, c := range rp.claims {
		if v, ok := idClaims[c.From]; ok {
			claims[c.To] = v
		}
	}
	t, err := mint.Standalone(rp.signer, rp.now(), rp.cfg.AccessTTL, claims)
	if err != nil {
		return "", time.Time{}, err
	}
	return t.Raw, t.Exp, nil
}

// setSession sets the session cookie: HttpOnly, SameSite=Lax (a link from another site still
// opens a page as the signed-in user), Secure but for plain http to this machine, living as
// long as its token.
func (rp *RP) setSession(w http.ResponseWriter, r *http.Request, raw string, exp time.Time) {
	c := &http.Cookie{
		Name: rp.cfg.Cookie, Value: raw, Path: "/", MaxAge: max(1, int((exp.Sub(rp.now())+time.Second-1)/time.Second)), // exp is whole seconds: round up, as the session cookies do
		HttpOnly: true, Secure: session.SecureCookies(r), SameSite: http.SameSiteLaxMode,
	}
	w.Header().Add("Set-Cookie", c.String())
	w.Header().Set("Cache-Control", "no-store")
}

// clearSession deletes the session cookie.
func (rp *RP) clearSession(w http.ResponseWriter, r *http.Request) {
	c := &http.Cookie{Name: rp.cfg.Cookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: session.SecureCookies(r), SameSite: http.SameSiteLaxMode}
	w.Header().Add("Set-Cookie", c.String())
	w.Header().Set("Cache-Control", "no-store")
}

// ServeLogout answers the logout form (POST, from this site's own pages): the session cookie is
// deleted and the browser sent to the provider's end_session_endpoint (RP-Initiated Logout 1.0)
// when it has one, with the configured post-logout redirect URI only; else to that URI, or "/".
func (rp *RP) ServeLogout(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		rp.page(w, r, http.StatusMethodNotAllowed, ReasonMethod, "Sign out with the sign-out button (a POST request).")
		return
	}
	if !session.FromSite(r, session.Origins{}) {
		rp.page(w, r, http.StatusForbidden, ReasonCrossSite, "This form was sent from another site, so it was refused.")
		return
	}
	rp.clearSession(w, r)
	target := "/"
	if rp.cfg.PostLogoutRedirect != "" {
		target = rp.cfg.PostLogoutRedirect
	}
	if d, err := rp.discovered(r.Context()); err == nil && d.endSession != "" {
		u, _ := url.Parse(d.endSession)
		q := u.Query()
		q.Set("client_id", rp.cfg.ClientID)
		if rp.cfg.PostLogoutRedirect != "" {
			q.Set("post_logout_redirect_uri", rp.cfg.PostLogoutRedirect)
		}
		u.RawQuery = q.Encode()
		target = u.String()
	}
	w.Header().Set("Location", target)
	w.WriteHeader(http.StatusSeeOther)
}

// page writes a small HTML page saying what went wrong: reason (a code, in an element with id
// "reason") and a sentence. Nothing from the request is in it but printable, escaped text.
func (rp *RP) page(w http.ResponseWriter, r *http.Request, status int, reason, desc string) {
	body := `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Signing in failed</title></head>` +
		`<body><h1>Signing in failed</h1><p>` + html.EscapeString(desc) + `</p><p>Error: <code id="reason">` +
		html.EscapeString(reason) + `</code></p></body></html>` + "\n"
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(body))
	}
}

// printable returns s cut to n bytes with anything but printable ASCII replaced by "?", for
// showing a provider's error code.
func printable(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	return string(b)
}

// Verifier returns the verifier of session tokens (for benchmarks and tests).
func (rp *RP) Verifier() *verify.Verifier { return rp.sessions }

// NewSession mints the session cookie's value for sub with claims, as a login that verified an
// ID token with those claims does (for tests and benchmarks: a real session comes from
// ServeCallback).
func (rp *RP) NewSession(sub string, claims map[string]json.RawMessage) (string, error) {
	raw, _, err := rp.mintSession(sub, claims)
	return raw, err
}
