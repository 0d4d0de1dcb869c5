package caddyauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/gatehouse-dev/gatehouse/internal/oidcrp"
	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/verify"
)

// OIDCSession makes jwt_auth's browser session come from another OpenID provider: jwt_auth is
// then a relying party (OpenID Connect authorization code flow with PKCE S256, state and nonce)
// that answers its callback and logout paths itself and keeps the user in this site's own
// short-lived session cookie, checked locally on every request.
type OIDCSession struct {
	// The provider's issuer URL (https, or http to a loopback host). Its discovery document is
	// fetched on the first login, not at start, so Caddy starts while the provider is down.
	Issuer string `json:"issuer"`
	// The client id registered at the provider.
	ClientID string `json:"client_id"`
	// The client secret (at least 16 characters); {env.X} and {file./path} placeholders are
	// resolved at provision. The session's keys are derived from it.
	ClientSecret string `json:"client_secret"`
	// Scopes requested. Default "openid profile email"; openid is always requested.
	Scopes []string `json:"scopes,omitempty"`
	// ID token claims copied into the session (and so available to user_claim, forward_claim
	// and require). Default email, email_verified, name, preferred_username and groups; sub is
	// always kept.
	Claims []OIDCClaim `json:"claims,omitempty"`
	// The redirect URI's path on this site (register <origin><path> at the provider). Default
	// /oidc/callback.
	CallbackPath string `json:"callback_path,omitempty"`
	// The path of the logout form's POST. Default /oidc/logout.
	LogoutPath string `json:"logout_path,omitempty"`
	// Where the provider sends the browser after logging out there (register it at the provider
	// as a post-logout redirect URI). Default: none; the provider shows its own page.
	PostLogoutRedirect string `json:"post_logout_redirect,omitempty"`
	// The session cookie's lifetime, and so the longest a session lives on here after the user
	// logged out at the provider. Default 5m, at most 24h.
	AccessTTL caddy.Duration `json:"access_ttl,omitempty"`
	// The session cookie's name. Default gatehouse_oidc.
	Cookie string `json:"cookie,omitempty"`
}

// OIDCClaim copies the ID token claim From into the session as To (default: the same name).
type OIDCClaim struct {
	// The ID token's claim.
	From string `json:"from"`
	// The session's claim; empty means From.
	To string `json:"to,omitempty"`
}

// rpConfig is the relying party's configuration, with the secret's placeholders resolved when
// resolve is set (Provision), and not otherwise (Validate, which reads no environment).
func (o *OIDCSession) rpConfig(resolve bool) (oidcrp.Config, error) {
	cfg := oidcrp.Config{
		Issuer:             o.Issuer,
		ClientID:           o.ClientID,
		ClientSecret:       o.ClientSecret,
		Scopes:             o.Scopes,
		CallbackPath:       o.CallbackPath,
		LogoutPath:         o.LogoutPath,
		PostLogoutRedirect: o.PostLogoutRedirect,
		AccessTTL:          time.Duration(o.AccessTTL),
		Cookie:             o.Cookie,
	}
	for _, c := range o.Claims {
		to := c.To
		if to == "" {
			to = c.From
		}
		cfg.Claims = append(cfg.Claims, oidcrp.Claim{From: c.From, To: to})
	}
	if resolve {
		s, err := caddy.NewReplacer().ReplaceOrErr(o.ClientSecret, true, true)
		if err != nil {
			return cfg, fmt.Errorf("session oidc client_secret: %v; set the environment variable or create the file it names", err)
		}
		cfg.ClientSecret = s
	} else if hasPlaceholder(o.ClientSecret) {
		cfg.ClientSecret = "a placeholder, resolved at provision"
	}
	return cfg, nil
}

// check validates the settings without contacting the provider or resolving the secret.
func (o *OIDCSession) check() error {
	cfg, err := o.rpConfig(false)
	if err != nil {
		return err
	}
	if _, err := oidcrp.New(cfg); err != nil {
		return fmt.Errorf("session %w", err)
	}
	return nil
}

// provisionRP builds the relying party of a jwt_auth with session oidc and starts fetching the
// provider's discovery document in the background, so the first login need not wait for it.
func (j *JWTAuth) provisionRP(ctx caddy.Context, policy verify.Policy) error {
	cfg, err := j.SessionOIDC.rpConfig(true)
	if err != nil {
		return err
	}
	cfg.Require, cfg.SafeClaims = policy.Require, policy.SafeClaims
	cfg.Logger = j.logger
	if j.rp, err = oidcrp.New(cfg); err != nil {
		return fmt.Errorf("session %w", err)
	}
	go func(rp *oidcrp.RP) { _ = rp.Discover(context.Background()) }(j.rp)
	return nil
}

// serveOIDC is ServeHTTP for a handler with session oidc: its callback and logout paths are
// answered here; a request's token comes from its token sources (an API client) or else from the
// session cookie (a browser), verified locally; a browser without a valid session is sent to the
// provider, anything else refused.
func (j *JWTAuth) serveOIDC(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	r = markForwardedHTTPS(r)
	callback, logout := j.rp.Paths()
	switch r.URL.Path {
	case callback:
		j.rp.ServeCallback(w, r)
		return nil
	case logout:
		j.rp.ServeLogout(w, r)
		return nil
	}
	raw, found, err := j.extractor.Extract(r)
	if err != nil {
		return j.refuse(w, r, verify.AsError(err))
	}
	if found {
		claims, err := j.verifier.Verify(r.Context(), raw)
		if err != nil {
			return j.refuse(w, r, verify.AsError(err))
		}
		return j.admit(w, r, claims, next, resultOK)
	}
	claims, found, err := j.rp.Session(r)
	if found && session.Unsafe(r) && !session.FromSite(r, session.Origins{}) {
		return j.refuseCrossSite(w, r) // CSRF: the Lax cookie came with another site's request
	}
	refused := verify.ErrMissing
	switch {
	case found && err == nil:
		return j.admitCookie(w, r, claims, next, resultOK)
	case found:
		refused = verify.AsError(err)
		j.logRefused("oidc session cookie refused", refused)
		if refused.Status == http.StatusForbidden {
			return j.refuse(w, r, refused) // a valid session the claim rules refuse: logging in again would not help
		}
	}
	if j.Optional {
		j.metrics.count(resultAnonymous)
		return next.ServeHTTP(w, r)
	}
	if session.WantsHTML(r) {
		j.metrics.count(resultLoginRedirect)
		j.rp.Login(w, r)
		return nil
	}
	return j.refuse(w, r, refused)
}

// parseOIDCSession parses `session oidc <issuer> { ... }`, the dispenser on "oidc".
func parseOIDCSession(d *caddyfile.Dispenser) (*OIDCSession, error) {
	o := new(OIDCSession)
	if !d.NextArg() {
		return nil, d.Err("session oidc takes the provider's issuer URL: session oidc https://id.example.com { client_id ...; client_secret ... }")
	}
	o.Issuer = d.Val()
	if err := oidcrp.CheckIssuer(o.Issuer); err != nil {
		return nil, d.Errf("session %v", err)
	}
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	opts := newOptionBlock(d, "session oidc")
	for opts.next() {
		name := d.Val()
		var err error
		switch name {
		case "client_id":
			o.ClientID, err = opts.single(name, nil)
		case "client_secret":
			o.ClientSecret, err = opts.single(name, nil)
		case "callback_path":
			o.CallbackPath, err = opts.single(name, oidcrp.CheckPath)
		case "logout_path":
			o.LogoutPath, err = opts.single(name, oidcrp.CheckPath)
		case "post_logout_redirect":
			o.PostLogoutRedirect, err = opts.single(name, oidcrp.CheckPostLogoutRedirect)
		case "cookie":
			o.Cookie, err = opts.single(name, session.CheckCookieName)
		case "access_ttl":
			var v string
			if v, err = opts.single(name, nil); err == nil {
				dur, perr := caddy.ParseDuration(v)
				if perr != nil {
					return nil, d.Errf("session oidc access_ttl %q is not a duration, such as 5m", v)
				}
				o.AccessTTL = caddy.Duration(dur)
			}
		case "scopes":
			if err = opts.once(name); err == nil {
				if o.Scopes = d.RemainingArgs(); len(o.Scopes) == 0 {
					return nil, opts.argErr()
				}
			}
		case "claim":
			args := d.RemainingArgs()
			if len(args) != 1 && len(args) != 2 {
				return nil, d.Err("claim takes the ID token's claim and optionally the session's name for it: claim email, claim groups roles")
			}
			c := OIDCClaim{From: args[0]}
			if len(args) == 2 {
				c.To = args[1]
			}
			to := c.To
			if to == "" {
				to = c.From
			}
			if err := oidcrp.CheckClaim(oidcrp.Claim{From: c.From, To: to}); err != nil {
				return nil, d.Errf("session %v", err)
			}
			o.Claims = append(o.Claims, c)
		default:
			return nil, opts.unknown()
		}
		if err != nil {
			return nil, err
		}
	}
	if err := o.check(); err != nil {
		return nil, d.Errf("%v", err)
	}
	return o, nil
}

// errSessionBoth refuses session <base> and session oidc together.
var errSessionBoth = errors.New("session is already set; a jwt_auth takes one session: an issuer's base path or oidc")
