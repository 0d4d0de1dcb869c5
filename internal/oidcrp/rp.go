// Package oidcrp is the relying-party side of Gatehouse: a site whose browser sessions come from
// another OpenID provider (OpenID Connect Core 1.0, authorization code flow). It sends a browser
// without a session to the provider with PKCE (S256), state and nonce bound to the browser by a
// short-lived encrypted cookie; on the way back it exchanges the code, verifies the ID token
// (signature by the provider's published keys, issuer, audience, expiry, nonce) and gives the
// browser this site's own short-lived session cookie, a JWT that every later request is checked
// against locally: no network call per request. When the cookie expires the browser goes through
// the provider again, silently while the provider's session lasts, so logging out at the
// provider ends the session here no later than the cookie's lifetime.
//
// The protocol work is done by github.com/coreos/go-oidc/v3 (discovery, ID token verification)
// and golang.org/x/oauth2 (the authorization request, PKCE, the token request). It imports no
// Caddy.
package oidcrp

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"go.uber.org/zap"
	"golang.org/x/crypto/hkdf"
	"golang.org/x/oauth2"

	"github.com/gatehouse-dev/gatehouse/internal/keys"
	"github.com/gatehouse-dev/gatehouse/internal/mint"
	"github.com/gatehouse-dev/gatehouse/internal/safeurl"
	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/verify"
)

// Defaults of a Config.
const (
	DefaultCallbackPath = "/oidc/callback"
	DefaultLogoutPath   = "/oidc/logout"
	DefaultCookie       = "gatehouse_oidc"
	DefaultAccessTTL    = 5 * time.Minute
	// MaxAccessTTL bounds the session cookie's lifetime: it is also how long a session lives on
	// here after the user logged out at the provider.
	MaxAccessTTL = 24 * time.Hour
)

// DefaultScopes are requested when Config.Scopes is empty.
var DefaultScopes = []string{oidc.ScopeOpenID, "profile", "email"}

// DefaultClaims are copied from the ID token into the session when Config.Claims is empty
// (sub always is).
var DefaultClaims = []Claim{{From: "email", To: "email"}, {From: "email_verified", To: "email_verified"},
	{From: "name", To: "name"}, {From: "preferred_username", To: "preferred_username"}, {From: "groups", To: "groups"}}

// sessionIssuer and sessionType mark this site's session tokens, so that no other token (an ID
// token of the provider, an access token of a local issuer) passes for one, whatever its key.
const (
	sessionIssuer = "urn:gatehouse:oidc-session"
	sessionType   = "oidc_session"
	// flowTTL is how long a login at the provider may take.
	flowTTL = 10 * time.Minute
	// discoveryRetry is how long a failed discovery is remembered before it is tried again.
	discoveryRetry = 5 * time.Second
	// providerTimeout bounds each request to the provider.
	providerTimeout = 10 * time.Second
)

// Claim copies the ID token claim From into the session token as To.
type Claim struct{ From, To string }

// reservedClaims are set by the session itself.
var reservedClaims = map[string]bool{"iss": true, "aud": true, "exp": true, "iat": true, "nbf": true,
	"jti": true, "token_type": true, "sub": true, "idp": true}

// Config configures a relying party.
type Config struct {
	// Issuer is the provider's issuer URL (https, or http to a loopback host); its discovery
	// document is at Issuer + /.well-known/openid-configuration.
	Issuer string
	// ClientID and ClientSecret are the client's registration at the provider. The secret is
	// also what this site's session and flow keys are derived from (HKDF), so that every
	// replica and every reload of the configuration reads the others' cookies.
	ClientID, ClientSecret string
	// Scopes requested; "openid" is added when missing. Empty: DefaultScopes.
	Scopes []string
	// Claims copied from the ID token into the session. Empty: DefaultClaims.
	Claims []Claim
	// CallbackPath is the redirect URI's path on this site (the URI is the site's origin and
	// this path, and must be registered at the provider). Default DefaultCallbackPath.
	CallbackPath string
	// LogoutPath is where the site's logout form posts. Default DefaultLogoutPath.
	LogoutPath string
	// PostLogoutRedirect, when set, is the absolute URL the provider sends the browser back to
	// after logging out there (it must be registered at the provider as a post-logout redirect
	// URI). Without it the provider shows its own page.
	PostLogoutRedirect string
	// AccessTTL is the session cookie's lifetime. Default DefaultAccessTTL.
	AccessTTL time.Duration
	// Cookie names the session cookie; the flow cookies are Cookie + "_flow_" + part of the state. Default
	// DefaultCookie.
	Cookie string
	// Require and SafeClaims are the claim rules and header-safe claims of the jwt_auth whose
	// session this is, applied to the session token as to any token.
	Require    []verify.Requirement
	SafeClaims []string
	// HTTPClient makes the requests to the provider; nil: one with a 10 s timeout.
	HTTPClient *http.Client
	// Logger receives the reasons of refused callbacks at debug level; nil: none.
	Logger *zap.Logger
}

// RP is a relying party. Safe for concurrent use.
type RP struct {
	cfg      Config
	scopes   []string
	claims   []Claim
	client   *http.Client
	log      *zap.Logger
	signer   *mint.Signer     // session tokens
	sessions *verify.Verifier // of session tokens
	flowKey  []byte           // AES-256-GCM key of the flow cookie
	now      func() time.Time

	mu       sync.Mutex
	disc     *discovered
	failedAt time.Time
	failErr  error
}

// discovered is what the provider's discovery document gave.
type discovered struct {
	provider   *oidc.Provider
	verifier   *oidc.IDTokenVerifier
	endSession string // "" when not advertised
	style      oauth2.AuthStyle
}

// New checks cfg and returns its RP. It does not contact the provider: discovery happens on the
// first login (Discover starts it early).
func New(cfg Config) (*RP, error) {
	if err := CheckIssuer(cfg.Issuer); err != nil {
		return nil, err
	}
	if cfg.ClientID == "" {
		return nil, errors.New("oidc: client_id is required: the client's id at the provider")
	}
	if len(cfg.ClientSecret) < 16 {
		return nil, errors.New("oidc: client_secret is required and must be at least 16 characters: this site's session keys are derived from it")
	}
	if cfg.CallbackPath == "" {
		cfg.CallbackPath = DefaultCallbackPath
	}
	if cfg.LogoutPath == "" {
		cfg.LogoutPath = DefaultLogoutPath
	}
	for _, p := range []string{cfg.CallbackPath, cfg.LogoutPath} {
		if err := CheckPath(p); err != nil {
			return nil, err
		}
	}
	if cfg.CallbackPath == cfg.LogoutPath {
		return nil, fmt.Errorf("oidc: callback_path and logout_path must differ (both are %s)", cfg.CallbackPath)
	}
	if cfg.PostLogoutRedirect != "" {
		if err := CheckPostLogoutRedirect(cfg.PostLogoutRedirect); err != nil {
			return nil, err
		}
	}
	if cfg.AccessTTL == 0 {
		cfg.AccessTTL = DefaultAccessTTL
	}
	if cfg.AccessTTL < time.Second || cfg.AccessTTL > MaxAccessTTL {
		return nil, fmt.Errorf("oidc: access_ttl %s is out of range; use 1s to %s", cfg.AccessTTL, MaxAccessTTL)
	}
	if cfg.Cookie == "" {
		cfg.Cookie = DefaultCookie
	}
	if err := session.CheckCookieName(cfg.Cookie); err != nil {
		return nil, fmt.Errorf("oidc: %w", err)
	}
	rp := &RP{cfg: cfg, scopes: cfg.Scopes, claims: cfg.Claims, client: cfg.HTTPClient, log: cfg.Logger, now: time.Now}
	if len(rp.scopes) == 0 {
		rp.scopes = DefaultScopes
	}
	if !contains(rp.scopes, oidc.ScopeOpenID) {
		rp.scopes = append([]string{oidc.ScopeOpenID}, rp.scopes...)
	}
	if len(rp.claims) == 0 {
		rp.claims = DefaultClaims
	}
	for _, c := range rp.claims {
		if err := CheckClaim(c); err != nil {
			return nil, err
		}
	}
	if rp.client == nil {
		rp.client = &http.Client{Timeout: providerTimeout}
	}
	if rp.log == nil {
		rp.log = zap.NewNop()
	}
	sessionKey := derive(cfg, "session token HS256")
	var err error
	if rp.signer, err = mint.NewHMACAlg("HS256", sessionKey, ""); err != nil {
		return nil, fmt.Errorf("oidc: %w", err)
	}
	rp.flowKey = derive(cfg, "flow cookie AES-256-GCM")
	policy := verify.Policy{
		Algorithms: []string{"HS256"},
		Issuers:    []string{sessionIssuer},
		Audiences:  []string{cfg.ClientID},
		TokenType:  sessionType,
		Require:    cfg.Require,
		SafeClaims: cfg.SafeClaims,
	}
	if rp.sessions, err = verify.New(policy, keys.Static{Set: keys.NewSet(rp.signer.VerifyKey())}, func() time.Time { return rp.now() }); err != nil {
		return nil, fmt.Errorf("oidc: %w", err)
	}
	return rp, nil
}

// derive returns a 32-byte key for purpose from the client secret (HKDF-SHA256, RFC 5869), bound
// to the provider and the client id, so that the same secret used elsewhere gives other keys,
// and the provider, which knows the secret (and may sign HS256 ID tokens with it), never holds
// the key of this site's session tokens.
func derive(cfg Config, purpose string) []byte {
	info := "gatehouse oidc v1\x00" + purpose + "\x00" + cfg.Issuer + "\x00" + cfg.ClientID
	key := make([]byte, 32)
	if _, err := io.ReadFull(hkdf.New(sha256.New, []byte(cfg.ClientSecret), nil, []byte(info)), key); err != nil {
		panic(err) // HKDF-SHA256 gives up to 8160 bytes
	}
	return key
}

// Paths returns the callback and logout paths this RP answers itself.
func (rp *RP) Paths() (callback, logout string) { return rp.cfg.CallbackPath, rp.cfg.LogoutPath }

// Cookie is the session cookie's name.
func (rp *RP) Cookie() string { return rp.cfg.Cookie }

// Discover fetches the provider's discovery document unless it has been, ahead of the first
// login. Its failure is not remembered (a login's is, for a few seconds): the provider may be
// this very Caddy, which is not listening yet while it provisions, and the first login must
// then ask again rather than be refused.
func (rp *RP) Discover(ctx context.Context) error {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if rp.disc != nil {
		return nil
	}
	d, err := rp.discover(ctx)
	if err != nil {
		return err
	}
	rp.disc, rp.failErr = d, nil
	return nil
}

func (rp *RP) discovered(ctx context.Context) (*discovered, error) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if rp.disc != nil {
		return rp.disc, nil
	}
	if rp.failErr != nil && rp.now().Sub(rp.failedAt) < discoveryRetry {
		return nil, rp.failErr
	}
	d, err := rp.discover(ctx)
	if err != nil {
		rp.failedAt, rp.failErr = rp.now(), err
		return nil, err
	}
	rp.disc, rp.failErr = d, nil
	return d, nil
}

func (rp *RP) discover(ctx context.Context) (*discovered, error) {
	// The provider keeps the context for its key set's fetches: the client, not a deadline,
	// bounds them (the http.Client's Timeout), and the request's cancellation must not end them.
	pctx := oidc.ClientContext(context.WithoutCancel(ctx), rp.client)
	p, err := oidc.NewProvider(pctx, rp.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("oidc discovery of %s: %w", rp.cfg.Issuer, err)
	}
	var doc struct {
		JWKSURI     string   `json:"jwks_uri"`
		EndSession  string   `json:"end_session_endpoint"`
		CodeMethods []string `json:"code_challenge_methods_supported"`
		AuthMethods []string `json:"token_endpoint_auth_methods_supported"`
	}
	if err := p.Claims(&doc); err != nil {
		return nil, fmt.Errorf("oidc discovery of %s: %w", rp.cfg.Issuer, err)
	}
	ep := p.Endpoint()
	// The provider's endpoints get the client secret, the code and the verifier (token), or
	// decide which keys are trusted (jwks): the same rule as the issuer URL.
	for name, raw := range map[string]string{"authorization_endpoint": ep.AuthURL, "token_endpoint": ep.TokenURL, "jwks_uri": doc.JWKSURI} {
		if err := checkEndpoint(raw); err != nil {
			return nil, fmt.Errorf("oidc discovery of %s: %s %q: %w", rp.cfg.Issuer, name, raw, err)
		}
	}
	if doc.EndSession != "" && checkEndpoint(doc.EndSession) != nil {
		doc.EndSession = "" // not a place to send browsers to; logout then ends here only
	}
	if len(doc.CodeMethods) > 0 && !contains(doc.CodeMethods, "S256") {
		return nil, fmt.Errorf("oidc discovery of %s: the provider does not support PKCE with S256 (code_challenge_methods_supported %v)", rp.cfg.Issuer, doc.CodeMethods)
	}
	// One way of sending the client secret, the one the provider says it takes (Core's default,
	// client_secret_basic, when it says nothing): oauth2's auto-detection would send a refused
	// code again with the secret in the body, and report the second refusal (invalid_client).
	style := oauth2.AuthStyleInHeader
	if len(doc.AuthMethods) > 0 && !contains(doc.AuthMethods, "client_secret_basic") && contains(doc.AuthMethods, "client_secret_post") {
		style = oauth2.AuthStyleInParams
	}
	return &discovered{
		style:      style,
		provider:   p,
		verifier:   p.Verifier(&oidc.Config{ClientID: rp.cfg.ClientID, Now: rp.now}),
		endSession: doc.EndSession,
	}, nil
}

// oauth2Config is the code flow's configuration for a redirect URI.
func (rp *RP) oauth2Config(d *discovered, redirectURI string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     rp.cfg.ClientID,
		ClientSecret: rp.cfg.ClientSecret,
		Endpoint:     oauth2.Endpoint{AuthURL: d.provider.Endpoint().AuthURL, TokenURL: d.provider.Endpoint().TokenURL, AuthStyle: d.style},
		RedirectURL:  redirectURI,
		Scopes:       rp.scopes,
	}
}

// CheckIssuer checks an issuer URL: https (http only to a loopback host), a host, no query,
// fragment or user.
func CheckIssuer(issuer string) error {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return fmt.Errorf("oidc: issuer %q must be the provider's issuer URL, such as https://id.example.com", issuer)
	}
	if err := safeurl.Check(u); err != nil {
		return fmt.Errorf("oidc: issuer %s: %w", issuer, err)
	}
	return nil
}

func checkEndpoint(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil {
		return errors.New("not an absolute URL")
	}
	return safeurl.Check(u)
}

// CheckPath checks a callback or logout path: absolute, clean, no query.
func CheckPath(p string) error {
	if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "?#\\ %") || strings.Contains(p, "//") ||
		strings.Contains(p, "/./") || strings.Contains(p, "/../") || strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..") {
		return fmt.Errorf("oidc: path %q must be a clean absolute path without query, such as /oidc/callback", p)
	}
	return nil
}

// CheckPostLogoutRedirect checks a post-logout redirect URL: absolute https (http to a loopback
// host), no user or fragment.
func CheckPostLogoutRedirect(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" {
		return fmt.Errorf("oidc: post_logout_redirect %q must be an absolute URL registered at the provider, such as https://app.example.com/", raw)
	}
	if err := safeurl.Check(u); err != nil {
		return fmt.Errorf("oidc: post_logout_redirect %s: %w", raw, err)
	}
	return nil
}

// CheckClaim checks a claim mapping: both names given, the session name not one the session
// sets itself.
func CheckClaim(c Claim) error {
	switch {
	case c.From == "" || c.To == "":
		return errors.New("oidc: claim takes the ID token's claim and, optionally, the session's name for it")
	case reservedClaims[c.To]:
		return fmt.Errorf("oidc: claim %s cannot be set from the ID token: the session sets it itself", c.To)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
