// Package issuer is Gatehouse's token endpoint: a net/http handler that trades a username and
// password for an access and a refresh token, refreshes, verifies and blacklists tokens and
// publishes the public keys, with the HTTP contract of djangorestframework-simplejwt's views, so a
// front end written for simplejwt works unchanged. It imports no Caddy; caddyauth adapts it.
package issuer

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"path"
	"strings"

	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/cors"
	"github.com/gatehouse-dev/gatehouse/internal/mint"
	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/users"
	"github.com/gatehouse-dev/gatehouse/internal/verify"
)

// Config wires a Handler.
type Config struct {
	// Users checks credentials (required).
	Users users.Authenticator
	// Ring holds the signing keys; it also verifies refresh tokens and serves jwks.json (required).
	Ring *mint.Ring
	// Minter mints the tokens, signing with Ring (required).
	Minter *mint.Minter
	// Store keeps revoked ids and refresh families (required).
	Store Revocations
	// RotateRefresh makes refresh return a new refresh token and retire the old one.
	RotateRefresh bool
	// Issuer and Audience are checked on presented tokens as the Minter sets them ("" / nil: no
	// check).
	Issuer   string
	Audience []string
	// IPLimit, when not nil, limits login attempts per client IP: every attempt counts, before the
	// body is read.
	IPLimit Limit
	// UserIPLimit, when not nil, limits failed logins per (username, client IP): the limit that
	// stops one address guessing at one account. A login that succeeds (or is not checked)
	// does not count.
	UserIPLimit Limit
	// UserLimit, when not nil, limits failed logins per username from all addresses together:
	// the ceiling on a guess spread over many addresses. Make it much higher than UserIPLimit
	// (caddyauth's default is 10 times), or one address can lock the user out of every other.
	UserLimit Limit
	// ClientIP returns the client address used for IPLimit; nil means r.RemoteAddr's host.
	// (Caddy's adapter passes the client_ip variable, which honours trusted_proxies.)
	ClientIP func(r *http.Request) string
	// BasePath is where the endpoints are mounted ("/api/token"; "" under handle_path).
	BasePath string
	// Realm is the WWW-Authenticate realm of 401 answers; "" means "api".
	Realm string
	// Logger receives refusals at debug level and security events at warn; nil: zap.NewNop().
	Logger *zap.Logger
	// CORS, when not nil, answers CORS preflights to the endpoints and marks the answers to
	// allowed origins, so a single-page app on another origin can log in; without it a
	// preflight is a 405 like any other method the endpoints do not take.
	CORS *cors.Policy
	// Session, when not nil, turns on browser sessions: a login page and form, logout, and
	// cookie renewal for jwt_auth.
	Session *SessionConfig
	// Factors, when not nil, turns on second factors: one-time codes after the password (the
	// JSON login's otp field; with Session, a code page, and enrolment from the session).
	Factors *FactorConfig
	// Events, when not nil, is told how each login, refresh, logout and session renewal ended
	// (for metrics); nil counts nothing.
	Events Events
	// Provider, when not nil, makes the issuer an OpenID Connect provider (needs Session).
	Provider *ProviderConfig
}

// Handler serves the token endpoints. Safe for concurrent use.
type Handler struct {
	users       users.Authenticator
	ring        *mint.Ring
	minter      *mint.Minter
	store       Revocations
	rotate      bool
	ipLimit     Limit
	userIPLimit Limit
	userLimit   Limit
	clientIP    func(r *http.Request) string
	base        string
	challenge   string // the WWW-Authenticate value of every 401
	log         *zap.Logger
	events      Events // never nil: noEvents without Config.Events

	sessions *Sessions     // nil when browser sessions are off
	factors  *FactorConfig // nil when second factors are off
	cors     *cors.Policy  // nil without CORS
	provider *provider     // nil unless the issuer is an OpenID provider

	// refreshTokens verifies the tokens of refresh and blacklist (token_type "refresh");
	// anyTokens those of verify, which accepts any token type, as simplejwt's does.
	refreshTokens, anyTokens *verify.Verifier
}

// New checks cfg and returns a Handler.
func New(cfg Config) (*Handler, error) {
	switch {
	case cfg.Users == nil:
		return nil, errors.New("issuer: no users; configure users, a users file or a credentials URL")
	case cfg.Ring == nil:
		return nil, errors.New("issuer: no key ring")
	case cfg.Minter == nil:
		return nil, errors.New("issuer: no minter")
	case cfg.Store == nil:
		return nil, errors.New("issuer: no revocation store")
	}
	base := strings.TrimSuffix(cfg.BasePath, "/")
	if base != "" && (base[0] != '/' || path.Clean(base) != base) {
		return nil, fmt.Errorf("issuer: base path %q must be a clean absolute path such as /api/token (or empty)", cfg.BasePath)
	}
	realm := cfg.Realm
	if realm == "" {
		realm = "api"
	}
	for i := 0; i < len(realm); i++ {
		if c := realm[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return nil, fmt.Errorf("issuer: realm %q must be printable ASCII without quotes or backslashes", realm)
		}
	}
	h := &Handler{
		users:       cfg.Users,
		ring:        cfg.Ring,
		minter:      cfg.Minter,
		store:       cfg.Store,
		rotate:      cfg.RotateRefresh,
		ipLimit:     cfg.IPLimit,
		userIPLimit: cfg.UserIPLimit,
		userLimit:   cfg.UserLimit,
		clientIP:    cfg.ClientIP,
		base:        base,
		challenge:   `Bearer realm="` + realm + `"`,
		log:         cfg.Logger,
		cors:        cfg.CORS,
		events:      cfg.Events,
	}
	if h.events == nil {
		h.events = noEvents{}
	}
	if cfg.Factors != nil {
		if cfg.Factors.Store == nil {
			return nil, errors.New("issuer: second factors need a factor store")
		}
		h.factors = cfg.Factors
	}
	if h.clientIP == nil {
		h.clientIP = remoteHost
	}
	if h.log == nil {
		h.log = zap.NewNop()
	}
	policy := verify.Policy{
		Audiences: cfg.Audience,
		TokenType: "refresh",
		// Refresh tokens are presented once in a while, not on every request: caching them would
		// only hold memory.
		CacheSize: -1,
	}
	if cfg.Issuer != "" {
		policy.Issuers = []string{cfg.Issuer}
	}
	var err error
	if h.refreshTokens, err = verify.New(policy, cfg.Ring, nil); err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	policy.TokenType = verify.TokenTypeOff
	if h.anyTokens, err = verify.New(policy, cfg.Ring, nil); err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	if cfg.Session != nil {
		if h.sessions, err = newSessions(h, cfg.Session); err != nil {
			return nil, err
		}
	}
	if cfg.Provider != nil {
		if h.provider, err = newProvider(h, cfg.Provider); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// remoteHost is the default ClientIP: the host of r.RemoteAddr.
func remoteHost(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// ServeHTTP implements http.Handler: it routes BasePath + "", "/refresh", "/verify",
// "/blacklist" (POST) and "/jwks.json" (GET, HEAD), each with an optional trailing slash as
// simplejwt's URLs have one, and with sessions "/login" (GET, HEAD, POST) and "/logout" (POST).
// Anything else is 404.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.cors != nil {
		if cors.IsPreflight(r) {
			h.cors.Preflight(w, r)
			return
		}
		h.cors.Actual(w.Header(), r)
	}
	rest, ok := strings.CutPrefix(r.URL.Path, h.base)
	if !ok {
		h.fail(w, problemNotFound)
		return
	}
	rest = strings.TrimSuffix(rest, "/")
	if p := h.provider; p != nil && p.owns(rest) {
		p.serve(w, r, rest)
		return
	}
	if rest == "/jwks.json" {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.fail(w, methodNotAllowed(r.Method, "GET, HEAD"))
			return
		}
		h.jwks(w)
		return
	}
	if s := h.sessions; s != nil && h.factors != nil && (s.servePasskey(w, r, rest) || s.serveFactor(w, r, rest)) {
		return
	}
	if s := h.sessions; s != nil && (rest == session.LoginPath || rest == session.LogoutPath) {
		switch {
		case rest == session.LoginPath && (r.Method == http.MethodGet || r.Method == http.MethodHead):
			s.loginPage(w, r)
		case rest == session.LoginPath && r.Method == http.MethodPost:
			s.login(w, r)
		case rest == session.LogoutPath && r.Method == http.MethodPost:
			s.logout(w, r)
		case rest == session.LoginPath:
			h.fail(w, methodNotAllowed(r.Method, "GET, HEAD, POST"))
		default:
			h.fail(w, methodNotAllowed(r.Method, http.MethodPost))
		}
		return
	}
	var endpoint func(http.ResponseWriter, *http.Request)
	switch rest {
	case "":
		endpoint = h.obtain
	case "/refresh":
		endpoint = h.refresh
	case "/verify":
		endpoint = h.verify
	case "/blacklist":
		endpoint = h.blacklist
	default:
		h.fail(w, problemNotFound)
		return
	}
	if r.Method != http.MethodPost {
		h.fail(w, methodNotAllowed(r.Method, http.MethodPost))
		return
	}
	endpoint(w, r)
}
