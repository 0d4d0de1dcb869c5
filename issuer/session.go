package issuer

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/mint"
	"github.com/gatehouse-dev/gatehouse/internal/safeurl"
	"github.com/gatehouse-dev/gatehouse/internal/session"
)

// SessionConfig turns on browser sessions: the login page and form at <base>/login, logout at
// <base>/logout, and Sessions.Renew, with which jwt_auth renews an expired access cookie.
type SessionConfig struct {
	// Cookies names the access and refresh cookies; an empty name means its default.
	Cookies session.Cookies
	// LoginPage renders the login page with a LoginPageData; nil means the built-in page.
	LoginPage *template.Template
	// Origins are other origins (scheme://host[:port], or one-label patterns such as
	// https://*.home.example) whose pages may use the session: post the login and logout forms
	// and send state-changing requests with the cookie. The site's own origin is always
	// allowed. A browser may also be sent back to them after logging in or out.
	Origins []string
	// CookieDomain, when not "", sets the cookies with Domain=CookieDomain, so that one login
	// is good for every site under it; a browser may then be sent back to an https URL of any of
	// them after logging in or out.
	CookieDomain string
	// LoginOrigin is the origin (scheme://host[:port]) of the site serving the login page, when
	// jwt_auth handlers of other sites share the session (CookieDomain): they send browsers
	// there, with their own absolute URL as next. "": the login page is on each site's own host.
	LoginOrigin string
}

// renewGrace is how long the successor of a rotated refresh cookie is handed out again to
// requests presenting the same cookie. A browser sends a page and its scripts' requests in
// parallel, all carrying the same expiring session; without a grace period one of them would
// rotate it and every other would count as reuse and end the session (RFC 9700 section 4.14.2
// allows for this). After the grace period, reuse revokes the family as for any refresh token.
const renewGrace = 30 * time.Second

// maxRenewals bounds the successors remembered for renewGrace; beyond it, renewals are not
// remembered (parallel requests of a session may then end it) rather than memory grow.
const maxRenewals = 10000

// ErrNoSession is Renew's answer for a request without a usable session: no refresh cookie, or
// one whose token is invalid, expired, revoked or reused. The cookies have been cleared.
var ErrNoSession = errors.New("no valid session")

// ErrUnavailable is Renew's answer when the revocation storage cannot be read or written: the
// session is neither renewed nor ended (fail closed, answer 503).
var ErrUnavailable = errors.New("the session store is unavailable")

// Sessions is the browser side of a Handler, which jwt_auth uses to read and renew sessions.
type Sessions struct {
	h           *Handler
	cookies     session.Cookies
	origins     session.Origins
	ret         session.Return // where a browser may be sent after logging in or out
	loginOrigin string         // LoginOrigin, normalized; "" for none
	tmpl        *template.Template
	now         func() time.Time
	renewals    renewals
}

// newSessions checks cfg and builds the Sessions of h.
func newSessions(h *Handler, cfg *SessionConfig) (*Sessions, error) {
	s := &Sessions{h: h, cookies: cfg.Cookies, tmpl: cfg.LoginPage, now: time.Now}
	if s.cookies.Access == "" {
		s.cookies.Access = session.DefaultAccessCookie
	}
	if s.cookies.Refresh == "" {
		s.cookies.Refresh = session.DefaultRefreshCookie
	}
	for _, name := range []string{s.cookies.Access, s.cookies.Refresh} {
		if err := session.CheckCookieName(name); err != nil {
			return nil, fmt.Errorf("issuer: %w", err)
		}
	}
	if s.cookies.Access == s.cookies.Refresh {
		return nil, fmt.Errorf("issuer: the access and refresh cookies must have different names (both are %q)", s.cookies.Access)
	}
	var err error
	if s.origins, err = session.ParseOrigins(cfg.Origins); err != nil {
		return nil, fmt.Errorf("issuer: session origin: %w", err)
	}
	if cfg.CookieDomain != "" {
		if err := CheckCookieDomain(cfg.CookieDomain, s.cookies); err != nil {
			return nil, fmt.Errorf("issuer: %w", err)
		}
		s.cookies.Domain = cfg.CookieDomain
	}
	if cfg.LoginOrigin != "" {
		if s.loginOrigin, err = CheckLoginOrigin(cfg.LoginOrigin, cfg.CookieDomain); err != nil {
			return nil, fmt.Errorf("issuer: %w", err)
		}
	}
	s.ret = session.Return{Base: h.base, Domain: cfg.CookieDomain, Origins: s.origins}
	if s.tmpl == nil {
		s.tmpl = defaultLoginPage
	}
	s.renewals.m = make(map[string]*renewal)
	return s, nil
}

// Sessions returns h's browser sessions, or nil when they are off.
func (h *Handler) Sessions() *Sessions { return h.sessions }

// Cookies returns the names of the session cookies.
func (s *Sessions) Cookies() session.Cookies { return s.cookies }

// FromSite reports whether r comes from the site's own pages or a configured origin (the CSRF
// check of requests that act on the session cookies).
func (s *Sessions) FromSite(r *http.Request) bool { return session.FromSite(r, s.origins) }

// LoginURL is the login page's URL for a browser that asked for r without a session: on r's own
// host, or with a login origin on that site, with r's absolute URL as next when the rule of
// return addresses allows it (else the login site's "/").
func (s *Sessions) LoginURL(r *http.Request) string {
	if s.loginOrigin == "" {
		return session.LoginURL(s.h.base, r)
	}
	return session.LoginURLAt(s.loginOrigin, s.h.base, s.ret, r)
}

// Next returns next when a browser may be sent there after logging in or out (a path of this
// site, or an absolute URL of a host the cookie domain or the origins allow), else "/". The
// OpenID provider's resume address, under the base path that the rule refuses, is kept: it is
// where the login page returns to during a sign-in for a relying party.
func (s *Sessions) Next(next string) string {
	if s.h.provider != nil {
		if rest, ok := strings.CutPrefix(next, s.h.base+resumePath+"?id="); ok && validRequestID(rest) {
			return next
		}
	}
	return s.ret.Next(next)
}

// CheckCookieDomain checks a session's cookie_domain for cookies: a domain name of two labels
// or more, and no __Host- cookie, which a browser refuses with a Domain.
func CheckCookieDomain(domain string, cookies session.Cookies) error {
	if err := session.CheckCookieDomain(domain); err != nil {
		return err
	}
	for _, name := range []string{cookies.Access, cookies.Refresh} {
		if strings.HasPrefix(name, "__Host-") {
			return fmt.Errorf("cookie %s cannot have cookie_domain %s: browsers refuse a __Host- cookie with a Domain; use a __Secure- name", name, domain)
		}
	}
	return nil
}

// CheckLoginOrigin checks a session's login_origin and returns it normalized: https (or http
// to this machine), and, with a cookie domain, a host the cookies of that domain reach (the
// login page sets them; a browser drops cookies for a domain that does not cover the host).
func CheckLoginOrigin(origin, cookieDomain string) (string, error) {
	n, err := session.NormalizeOrigin(origin)
	if err != nil {
		return "", fmt.Errorf("login_origin: %w", err)
	}
	u, _ := url.Parse(n)
	if err := safeurl.Check(u); err != nil {
		return "", fmt.Errorf("login_origin %s: %w", origin, err)
	}
	if cookieDomain == "" {
		return "", fmt.Errorf("login_origin %s needs cookie_domain: without it the cookies the login page sets reach that site only", origin)
	}
	if !session.InDomain(u.Hostname(), cookieDomain) {
		return "", fmt.Errorf("cookie_domain %s does not cover the login site %s: its cookies would not be sent to it; give a domain of which %s is a subdomain", cookieDomain, u.Hostname(), u.Hostname())
	}
	return n, nil
}

// Base is the issuer's base path: nothing under it is ever sent to the login page.
func (s *Sessions) Base() string { return s.h.base }

// Renew trades raw, the refresh cookie of r, for a new access token, sets the new cookies on w
// (with rotation, a new refresh cookie too) and returns the access token. When raw is not a
// usable refresh token it clears both cookies and returns ErrNoSession; with the storage down,
// ErrUnavailable.
func (s *Sessions) Renew(w http.ResponseWriter, r *http.Request, raw string) (string, error) {
	h := s.h
	ctx := r.Context()
	t, p := h.check(ctx, "session", raw, h.refreshTokens)
	var access, next mint.Token
	switch {
	case p != nil:
	case h.rotate:
		access, next, p = s.renewals.do(ctx, t.jti, s.now(), func() (mint.Token, mint.Token, *problem) {
			return h.renew(ctx, "session", t, renewGrace)
		})
	default:
		access, next, p = h.renew(ctx, "session", t, renewGrace)
	}
	h.events.Session(sessionOutcome(p))
	if p != nil {
		return "", s.ended(w, r, p)
	}
	s.cookies.Set(w, r, s.now(), access.Raw, access.Exp, next.Raw, next.Exp)
	return access.Raw, nil
}

// ended turns a refusal into Renew's error, clearing the cookies unless the storage failed
// (then the session may still be good, and the next request tries again).
func (s *Sessions) ended(w http.ResponseWriter, r *http.Request, p *problem) error {
	if p == problemUnavailable {
		return ErrUnavailable
	}
	s.cookies.Clear(w, r)
	return ErrNoSession
}

// renewals remembers, for renewGrace, what renewing each refresh token (by jti) gave, and lets
// concurrent renewals of one token wait for the first instead of racing it.
type renewals struct {
	mu        sync.Mutex
	m         map[string]*renewal
	lastSweep time.Time
}

// renewal is one renewal, done when done is closed.
type renewal struct {
	done         chan struct{}
	at           time.Time
	access, next mint.Token
	p            *problem
}

// do returns the result of renewing jti: the remembered one when jti was renewed less than
// renewGrace ago (waiting for it if it is under way), else renew's, remembered.
func (rs *renewals) do(ctx context.Context, jti string, now time.Time, renew func() (mint.Token, mint.Token, *problem)) (mint.Token, mint.Token, *problem) {
	rs.mu.Lock()
	if e, ok := rs.m[jti]; ok && now.Sub(e.at) < renewGrace {
		rs.mu.Unlock()
		select {
		case <-e.done:
			return e.access, e.next, e.p
		case <-ctx.Done():
			return mint.Token{}, mint.Token{}, problemUnavailable
		}
	}
	e := &renewal{done: make(chan struct{}), at: now}
	remembered := rs.add(jti, e, now)
	rs.mu.Unlock()

	e.access, e.next, e.p = renew()
	if e.p == problemUnavailable && remembered {
		// A storage failure says nothing about the token: forget it, so a retry can succeed.
		rs.mu.Lock()
		if rs.m[jti] == e {
			delete(rs.m, jti)
		}
		rs.mu.Unlock()
	}
	close(e.done)
	return e.access, e.next, e.p
}

// add remembers e under jti unless the table is full of live entries; the caller holds rs.mu.
// Entries past renewGrace are swept at most once per renewGrace, or when the table is full, so
// the successors (credentials) are not kept in memory longer than needed.
func (rs *renewals) add(jti string, e *renewal, now time.Time) bool {
	if len(rs.m) >= maxRenewals || now.Sub(rs.lastSweep) >= renewGrace {
		rs.lastSweep = now
		for k, old := range rs.m {
			if now.Sub(old.at) >= renewGrace {
				delete(rs.m, k)
			}
		}
		if len(rs.m) >= maxRenewals {
			return false
		}
	}
	rs.m[jti] = e
	return true
}
