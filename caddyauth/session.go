package caddyauth

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/token"
	"github.com/gatehouse-dev/gatehouse/internal/verify"
	"github.com/gatehouse-dev/gatehouse/issuer"
)

// Results of session handling, for the metrics and {http.auth.jwt.error}.
const (
	resultRenewed       = "session_renewed"
	resultLoginRedirect = "login_redirect"
	resultBounce        = "cross_site_bounce"
	reasonCrossSite     = "cross_site_request"
	reasonUnavailable   = "session_unavailable"
)

// Bodies of the session refusals, in the shape of the others.
var (
	bodyCrossSite   = []byte(`{"detail":"Cross-site request refused: send it from this site's own pages.","code":"cross_site_request"}`)
	bodyUnavailable = []byte(`{"detail":"Service temporarily unavailable, try again later.","code":"service_unavailable"}`)
)

// serveSession is ServeHTTP for a handler with session set: the token comes from the request's
// token sources (an API client) or else from the session's access cookie (a browser); an
// expired or missing access cookie is renewed with the refresh cookie, in-line, so the request
// goes on as sent; a browser without a session is sent to the login page.
func (j *JWTAuth) serveSession(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	r = markForwardedHTTPS(r)
	s := j.link.binding().sessions
	var refresh string
	if s != nil {
		// The refresh token is for the issuer alone: take it off the request before anything
		// else, so no later handler or upstream ever sees it.
		refresh, _ = session.Value(r, s.Cookies().Refresh)
		session.Strip(r, s.Cookies().Refresh)
	}

	raw, found, err := j.extractor.Extract(r)
	if err != nil {
		return j.refuse(w, r, verify.AsError(err))
	}
	if found {
		// An API client's token: no cookie is involved, so no CSRF check and no renewal.
		claims, err := j.verifier.Verify(r.Context(), raw)
		if err != nil {
			return j.refuse(w, r, verify.AsError(err))
		}
		return j.admit(w, r, claims, next, resultOK)
	}
	if s == nil {
		j.logger.Debug("no jwt_issuer with session on is at the session base path in this handler's site or issuer_names; no session",
			zap.String("session", j.Session))
		return j.withoutSession(w, r, next, verify.ErrMissing)
	}

	access, hasAccess := session.Value(r, s.Cookies().Access)
	if (hasAccess || refresh != "") && session.Unsafe(r) && !s.FromSite(r) {
		// A state-changing request carried by the cookies from another site's page (CSRF):
		// refused before the session is touched, renewal included.
		return j.refuseCrossSite(w, r)
	}
	refused := verify.ErrMissing
	if hasAccess {
		claims, err := j.verifier.Verify(r.Context(), access)
		if err == nil {
			return j.admitCookie(w, r, claims, next, resultOK)
		}
		// Expired, or no longer good for another reason (a rotated-out key, a changed policy):
		// the refresh cookie decides.
		refused = verify.AsError(err)
		j.logRefused("session access cookie refused", refused)
	}
	if refresh == "" {
		return j.withoutSession(w, r, next, refused)
	}
	renewed, err := s.Renew(w, r, refresh)
	switch {
	case err == nil:
	case errors.Is(err, issuer.ErrUnavailable):
		return j.unavailable(w, r)
	default:
		return j.withoutSession(w, r, next, refused)
	}
	claims, err := j.verifier.Verify(r.Context(), renewed)
	if err != nil {
		// The issuer's fresh token does not pass this handler's policy (other keys, issuer or
		// audience configured): a configuration mistake, refused like any bad token.
		e := verify.AsError(err)
		j.logger.Warn("a renewed session token is refused by this jwt_auth; check that its keys, issuers and audiences accept the issuer's tokens",
			zap.String("reason", string(e.Reason)))
		return j.refuse(w, r, e)
	}
	return j.admitCookie(w, r, claims, next, resultRenewed)
}

// admitCookie is admit for a request carried by the session cookie. Its answer is marked
// private, no-cache (unless already marked, as a renewal's no-store is): a browser must not show
// a protected page from its cache after logging out, nor a shared cache keep it, so every reuse
// is revalidated through jwt_auth (a 304 while signed in, the login page after).
func (j *JWTAuth) admitCookie(w http.ResponseWriter, r *http.Request, claims *token.Claims, next caddyhttp.Handler, result string) error {
	if h := w.Header(); h["Cache-Control"] == nil {
		// A slice of its own: later handlers (header replace operations) may edit it in place.
		h["Cache-Control"] = []string{"private, no-cache"}
	}
	return j.admit(w, r, claims, next, result)
}

// refuseCrossSite answers a cookie-carried state-changing request from another site.
func (j *JWTAuth) refuseCrossSite(w http.ResponseWriter, r *http.Request) error {
	return j.refuseSession(w, r, http.StatusForbidden, reasonCrossSite, "the request does not come from this site's pages", bodyCrossSite)
}

// markForwardedHTTPS marks r as reached over https when it came through a proxy listed in
// trusted_proxies that says so in X-Forwarded-Proto (TLS terminated before Caddy): the session
// cookies are then Secure, the login is allowed and the site's origin is https. A client's own
// X-Forwarded-Proto counts for nothing.
func markForwardedHTTPS(r *http.Request) *http.Request {
	if r.TLS != nil {
		return r
	}
	if trusted, _ := caddyhttp.GetVar(r.Context(), caddyhttp.TrustedProxyVarKey).(bool); trusted &&
		strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		return session.WithForwardedHTTPS(r)
	}
	return r
}

// withoutSession answers a request that has no valid session: anonymous with optional, a
// redirect to the login page for a browser asking for a page (after one same-site bounce when
// it came from another site), else the refusal.
func (j *JWTAuth) withoutSession(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, refused *verify.Error) error {
	if j.Optional {
		j.metrics.count(resultAnonymous)
		return next.ServeHTTP(w, r)
	}
	// Never for the issuer's own paths, whatever the matchers: the login page must not send
	// a browser to itself.
	if session.WantsHTML(r) && !underBase(r.URL.Path, j.Session) {
		if session.CrossSiteNavigation(r) {
			// A link from another site: the Strict refresh cookie stayed behind. Open the
			// page again from this site, which sends it.
			j.metrics.count(resultBounce)
			if a, ok := next.(answerer); ok {
				return a.login(w, r, true) // jwt_forward_auth: never a 2xx
			}
			session.Bounce(w, r, j.Session)
			return nil
		}
		j.metrics.count(resultLoginRedirect)
		if a, ok := next.(answerer); ok {
			return a.login(w, r, false)
		}
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, j.loginURL(r), http.StatusFound)
		return nil
	}
	return j.refuse(w, r, refused)
}

// loginURL is where a browser without a session is sent: the login page of the issuer whose
// sessions this handler uses (on another site of its cookie_domain when it has a login_origin,
// with r's absolute URL as next if allowed), or without one the session base's login page on
// this site.
func (j *JWTAuth) loginURL(r *http.Request) string {
	if s := j.link.binding().sessions; s != nil {
		return s.LoginURL(r)
	}
	return session.LoginURL(j.Session, r)
}

// checkSessionBase checks the session setting: the base path of a jwt_issuer.
func checkSessionBase(base string) error {
	if base == "" || checkBasePath(base) != nil {
		return fmt.Errorf("session %q must be the base path of a jwt_issuer with session on, such as /api/token", base)
	}
	return nil
}

// checkSessionSources refuses a cookie token source beside session: the session's access cookie
// is read by session itself, which checks the Origin of state-changing requests it carries; a
// cookie read as a plain token source would skip that check.
func checkSessionSources(base string, sources []TokenSource) error {
	for _, src := range sources {
		if src.From == verify.FromCookie {
			return fmt.Errorf("from_cookie %s cannot be combined with session %s: session reads the issuer's access cookie itself (and checks where state-changing requests come from)", src.Name, base)
		}
	}
	return nil
}

// underBase reports whether p is base or under it.
func underBase(p, base string) bool {
	return p == base || strings.HasPrefix(p, base+"/")
}

// unavailable answers 503 when the session store cannot be read or written (fail closed).
func (j *JWTAuth) unavailable(w http.ResponseWriter, r *http.Request) error {
	return j.refuseSession(w, r, http.StatusServiceUnavailable, reasonUnavailable, "the session store is unavailable", bodyUnavailable)
}

// refuseSession records and answers a session refusal, as refuse does for token refusals.
func (j *JWTAuth) refuseSession(w http.ResponseWriter, r *http.Request, status int, reason, description string, body []byte) error {
	if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		repl.Set("http.auth.jwt.error", reason)
		repl.Set("http.auth.jwt.error_description", description)
	}
	if c := j.logger.Check(zapcore.DebugLevel, "request refused"); c != nil {
		c.Write(zap.String("reason", reason), zap.String("description", description))
	}
	j.metrics.count(reason)
	if hasErrorRoutes(r, status) {
		return caddyhttp.Error(status, errors.New(description))
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return nil
}
