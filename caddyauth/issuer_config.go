package caddyauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"
	caddyhashes "github.com/caddyserver/caddy/v2/modules/caddyhttp/caddyauth"

	"github.com/gatehouse-dev/gatehouse/internal/kv"
	"github.com/gatehouse-dev/gatehouse/internal/limit"
	"github.com/gatehouse-dev/gatehouse/internal/mint"
	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/users"
	"github.com/gatehouse-dev/gatehouse/internal/verify"
	"github.com/gatehouse-dev/gatehouse/issuer"
)

// IssuerConfig is the configuration of one issuer: its users, keys, token lifetimes, limits and
// sessions. It is given inline in a jwt_issuer handler (the Caddyfile's jwt_issuer block), or
// once for the whole configuration in the gatehouse app (the gatehouse global option), where
// jwt_issuer handlers of any site serve it by name.
type IssuerConfig struct {
	// An htpasswd-style users file: one user:hash per line (bcrypt as made by `caddy
	// hash-password` or `htpasswd -B`, or argon2id as made by `caddy hash-password --algorithm
	// argon2id`). It is read again when it changes; a bad line is skipped and logged with its
	// number.
	UsersFile string `json:"users_file,omitempty"`
	// Users configured inline; they win over users of the file with the same name.
	Users []IssuerUser `json:"users,omitempty"`
	// Delegates the password check to an app: the issuer POSTs {"username","password"} as JSON
	// to this URL; 200 with a JSON object (the user's claims) means yes, 401 or 403 means no,
	// anything else or no answer within 5s makes the login answer 503. Exclusive with
	// users_file and users.
	CredentialsURL string `json:"credentials_url,omitempty"`
	// The key tokens are signed with. Default: a generated ES256 key kept in Caddy's storage.
	SigningKey *SigningKey `json:"signing_key,omitempty"`
	// The iss claim of minted tokens, checked on refresh and verify. Default: none.
	Issuer string `json:"issuer,omitempty"`
	// The aud claim of minted tokens (a string for one value, an array for more), checked on
	// refresh and verify. Default: none.
	Audiences []string `json:"audiences,omitempty"`
	// Lifetime of access tokens. Default 5m (simplejwt's ACCESS_TOKEN_LIFETIME).
	AccessTTL caddy.Duration `json:"access_ttl,omitempty"`
	// Lifetime of refresh tokens. Default 24h (simplejwt's REFRESH_TOKEN_LIFETIME). With
	// rotate_refresh, the lifetime of the whole session started by a login.
	RefreshTTL caddy.Duration `json:"refresh_ttl,omitempty"`
	// Makes refresh return a new refresh token and use up the presented one; presenting a
	// used-up refresh token again revokes its whole family (RFC 9700 section 4.14.2).
	RotateRefresh bool `json:"rotate_refresh,omitempty"`
	// Makes a new signing key this often; retired public keys stay published and trusted until
	// the last token they signed has expired. Only with a generated (auto) signing key.
	RotateKeys caddy.Duration `json:"rotate_keys,omitempty"`
	// The claim holding the user id (simplejwt's USER_ID_CLAIM): the user's claim of that name
	// when it has one, else the username. Default "user_id".
	UserIDClaim string `json:"user_id_claim,omitempty"`
	// Login attempts allowed per client IP and per username. Default 20 per minute.
	LoginLimit *LoginLimit `json:"login_limit,omitempty"`
	// The realm in the WWW-Authenticate header of 401 answers. Default "api".
	Realm string `json:"realm,omitempty"`
	// Turns on browser sessions: a login page at <base>/login whose form sets the tokens in
	// HttpOnly cookies, logout at <base>/logout, and renewal of the access cookie by the
	// jwt_auth handlers that name this issuer's base path in their session setting. Needs
	// base_path.
	Session *IssuerSession `json:"session,omitempty"`
	// Answers CORS preflights to the endpoints from this policy (origins, methods, headers,
	// credentials, max_age; passthrough is not for the issuer) and marks the answers to its
	// origins, so a single-page app on another origin can log in and refresh. Without it a
	// preflight is answered 405.
	CORS *CORS `json:"cors,omitempty"`
	// Keeps the issuer's shared state (signing keys, revocations, refresh rotation, login
	// limits) in a store several Caddy instances share, instead of Caddy's storage and this
	// process's memory. Default: Caddy's configured storage for keys and revocations, memory for
	// the login limits.
	Store *IssuerStore `json:"store,omitempty"`
	// Makes the issuer an OpenID Connect provider for other apps, with the clients declared
	// here. Needs session, and issuer set to the provider's issuer URL (https://<host> followed
	// by the base path), where discovery is served.
	Provider *IssuerProvider `json:"provider,omitempty"`
	// Turns on second factors (one-time codes and recovery codes), kept in the issuer's state
	// (Caddy's storage, or the store). Default: off.
	SecondFactor *IssuerSecondFactor `json:"second_factor,omitempty"`
	// Where the issuer was configured, e.g. "Caddyfile:12" (its jwt_issuer directive, or its
	// issuer in the gatehouse global option): set by the Caddyfile adapter, used in error
	// messages only, so that a users, key or template file that cannot be loaded is reported
	// there. It is no setting: two places configuring one issuer alike configure it alike.
	Source string `json:"source,omitempty"`
}

// IssuerUser is a user configured inline.
type IssuerUser struct {
	// The username.
	Name string `json:"name"`
	// The password hash: bcrypt ($2a$, $2b$, $2y$) or argon2id ($argon2id$).
	Hash string `json:"hash"`
	// Extra claims of this user's tokens, e.g. {"user_id": 7, "roles": ["admin"]}. A claim named
	// as user_id_claim is the user id.
	Claims map[string]json.RawMessage `json:"claims,omitempty"`
}

// SigningKey says which key signs the tokens.
type SigningKey struct {
	// "auto" (a key generated on first start and kept in Caddy's storage, under
	// gatehouse/issuer/keys/<alg>.json, so restarts, reloads and every Caddy sharing the storage
	// use it), "file" (a PEM private key) or "secret" (an HMAC secret, HS256).
	Source string `json:"source"`
	// For auto: ES256 (default), EdDSA or RS256.
	Alg string `json:"alg,omitempty"`
	// For file: the path of a PEM private key (PKCS #8, SEC 1 or PKCS #1; RSA >= 2048 bits, EC
	// P-256/384/521, Ed25519). The algorithm follows the key type.
	File string `json:"file,omitempty"`
	// For secret: the HMAC secret, at least 32 bytes; placeholders such as {env.JWT_SECRET} or
	// {file./run/secrets/jwt} are resolved at provision time. Django's SIGNING_KEY (by default
	// its SECRET_KEY) makes tokens simplejwt accepts.
	Secret string `json:"secret,omitempty"`
}

// IssuerSession configures browser sessions.
type IssuerSession struct {
	// The name of the cookie holding the access token. Default "gatehouse_access".
	AccessCookie string `json:"access_cookie,omitempty"`
	// The name of the cookie holding the refresh token. Default "gatehouse_refresh".
	RefreshCookie string `json:"refresh_cookie,omitempty"`
	// A Go html/template file that replaces the built-in login page. It is executed with
	// .Action (the form's URL), .Next (a hidden field), .Username and .Error; the form must post
	// the fields username, password and next to .Action.
	LoginPage string `json:"login_page,omitempty"`
	// Other origins (scheme://host[:port], or a pattern with the whole first label a wildcard,
	// such as https://*.home.example: one label, scheme and port exact) whose pages may post the
	// login and logout forms and send state-changing requests with the session cookie, and to
	// which a browser may be sent back after logging in or out. The site's own origin always
	// may.
	Origins []string `json:"origins,omitempty"`
	// A domain (home.example) whose sites all share the session: the cookies are set with
	// Domain=<cookie_domain>, and a browser may be sent back to an https URL of the domain or
	// any subdomain after logging in or out. The site serving the issuer must be under it.
	CookieDomain string `json:"cookie_domain,omitempty"`
	// The origin (https://auth.home.example) of the site serving this issuer's login page, to
	// which jwt_auth handlers of the other sites under cookie_domain send browsers without a
	// session, with the page they asked for as next. Needs cookie_domain, which must cover it.
	LoginOrigin string `json:"login_origin,omitempty"`
}

// IssuerStore is where an issuer keeps the state its instances share.
type IssuerStore struct {
	// The Redis server: redis://[user:password@]host:port/db (plain redis only to a loopback
	// host), rediss:// for TLS, unix:///path for a socket; master_name=<name> in the query makes
	// the addresses Sentinels, several addr=<host:port> without it a Cluster. Placeholders such
	// as {env.REDIS_URL} are resolved at provision time, so the password need not be in the
	// config; it is never logged.
	Redis string `json:"redis,omitempty"`
	// Put in front of every key (in a Redis hash tag). Default "gatehouse". Instances that
	// share state must share it; two deployments on one Redis keep apart with two prefixes.
	Prefix string `json:"prefix,omitempty"`
}

// LoginLimit limits login attempts before any password check: every attempt per client IP,
// and failed ones (a wrong password or an unknown user) per username from one client IP and,
// with a higher ceiling, per username from all addresses together. One address guessing at an
// account is stopped by its own limit and cannot lock the user out elsewhere; a guess spread
// over many addresses is stopped by the ceiling.
type LoginLimit struct {
	// Turns the limits off.
	Off bool `json:"off,omitempty"`
	// Attempts allowed per window: per client IP, and failures per (username, client IP).
	// Default 20.
	Attempts int `json:"attempts,omitempty"`
	// The window. Default 1m.
	Per caddy.Duration `json:"per,omitempty"`
	// Failures allowed per username from all addresses together, per window. Default 10 times
	// attempts; at least attempts, or one address could lock the user out.
	PerUser int `json:"per_user,omitempty"`
}

// Signing key sources.
const (
	keyAuto   = "auto"
	keyFile   = "file"
	keySecret = "secret"
)

// Defaults and storage layout.
const (
	defaultAccessTTL     = 5 * time.Minute
	defaultRefreshTTL    = 24 * time.Hour
	defaultAutoAlg       = "ES256"
	defaultLoginAttempts = 20
	defaultLoginWindow   = time.Minute
	// defaultPerUserFactor times the attempts is the default per-username ceiling of failures.
	defaultPerUserFactor = 10
	// unnamedPrefix is where an unnamed issuer keeps its generated keys (keys/<alg>.json) and
	// its blacklisted ids and refresh families (revoke); namedPrefix + name + "/" is where a
	// named one keeps them.
	unnamedPrefix = "gatehouse/issuer/"
	namedPrefix   = "gatehouse/issuers/"
	// maintainEvery is how often key rotation and the purge of expired revocations run.
	maintainEvery = time.Minute
	// provisionTimeout bounds loading (or creating) the key ring at provision time.
	provisionTimeout = time.Minute
)

// autoAlgs are the algorithms of generated keys.
var autoAlgs = []string{"ES256", "EdDSA", "RS256"}

// hashAlgorithms are the password hash formats of users_file and user: Caddy's own comparers,
// as basic_auth uses them, with their fake hashes for unknown users.
var hashAlgorithms = []users.Algorithm{
	{Name: "bcrypt", Prefixes: []string{"$2a$", "$2b$", "$2y$"}, Comparer: caddyhashes.BcryptHash{}, FakeHash: caddyhashes.BcryptHash{}.FakeHash()},
	{Name: "argon2id", Prefixes: []string{"$argon2id$"}, Comparer: caddyhashes.Argon2idHash{}, FakeHash: caddyhashes.Argon2idHash{}.FakeHash()},
}

// hashGate bounds the password hash comparisons of every jwt_issuer of the process together
// (and across reloads), so a login flood leaves cores for other traffic: max(1, GOMAXPROCS/2)
// at once, 16 times as many waiting (more: 503 with Retry-After, unhashed), at most half of
// those for one client address (more: 429), and places go round the client addresses, so one
// client's flood delays another's login by about one hash.
var hashGate = sync.OnceValue(func() *limit.Gate { return limit.NewGate(0) })

// validate checks the issuer's settings; the Caddyfile parser runs the same checks with
// file:line. It reads no file and resolves no placeholder: building the issuer does, with Source
// in its errors.
func (c *IssuerConfig) validate() error {
	if err := checkUserSources(c.UsersFile != "", len(c.Users) > 0, c.CredentialsURL != ""); err != nil {
		return err
	}
	if err := checkStore(c.Store); err != nil {
		return err
	}
	if c.CredentialsURL != "" {
		if err := checkCredentialsURL(c.CredentialsURL); err != nil {
			return err
		}
	}
	for i, u := range c.Users {
		if u.Name == "" {
			return fmt.Errorf("user %d has no name", i+1)
		}
		if err := checkUserHash(u.Name, u.Hash); err != nil {
			return err
		}
		for name := range u.Claims {
			if err := checkClaimName(name); err != nil {
				return fmt.Errorf("user %s: %w", u.Name, err)
			}
		}
	}
	if err := c.checkUserIDClaim(); err != nil {
		return err
	}
	sk := c.signingKey()
	switch sk.Source {
	case keyAuto:
		if err := checkAutoAlg(sk.Alg); err != nil {
			return err
		}
		if sk.File != "" || sk.Secret != "" {
			return errors.New("signing_key auto takes no file or secret")
		}
	case keyFile:
		if sk.File == "" || sk.Alg != "" || sk.Secret != "" {
			return errors.New("signing_key file takes the path of a PEM private key, and nothing else")
		}
	case keySecret:
		if sk.Secret == "" || sk.Alg != "" || sk.File != "" {
			return errors.New("signing_key secret takes the secret, e.g. {env.JWT_SECRET}, and nothing else")
		}
		if err := checkSigningSecret(sk.Secret); err != nil {
			return err
		}
	default:
		return fmt.Errorf("signing_key %q is unknown; use auto, file or secret", sk.Source)
	}
	if c.RotateKeys < 0 {
		return errors.New("rotate_keys must be a positive duration")
	}
	if err := checkRotation(sk.Source, time.Duration(c.RotateKeys), time.Duration(c.AccessTTL), time.Duration(c.RefreshTTL)); err != nil {
		return err
	}
	for _, d := range []struct {
		name string
		v    caddy.Duration
	}{{"access_ttl", c.AccessTTL}, {"refresh_ttl", c.RefreshTTL}} {
		if err := checkTTL(d.name, time.Duration(d.v)); err != nil {
			return err
		}
	}
	if ll := c.LoginLimit; ll != nil && !ll.Off {
		if err := checkLoginLimit(ll.Attempts, time.Duration(ll.Per), ll.PerUser); err != nil {
			return err
		}
	}
	for _, a := range c.Audiences {
		if a == "" {
			return errors.New("audience must not contain an empty value")
		}
	}
	if c.Realm != "" {
		if err := checkRealm(c.Realm); err != nil {
			return err
		}
	}
	if c.CORS != nil {
		if c.CORS.Passthrough {
			return errIssuerPassthrough
		}
		if _, err := c.CORS.policy(); err != nil {
			return err
		}
	}
	if c.Session != nil {
		if err := c.Session.validate(); err != nil {
			return err
		}
	}
	if c.Provider != nil {
		if err := c.Provider.validate(c); err != nil {
			return err
		}
	}
	if c.SecondFactor != nil {
		if err := c.SecondFactor.validate(c.Session != nil); err != nil {
			return err
		}
	}
	return nil
}

// validate checks the session settings.
func (s *IssuerSession) validate() error {
	for _, name := range []string{s.AccessCookie, s.RefreshCookie} {
		if name != "" {
			if err := session.CheckCookieName(name); err != nil {
				return fmt.Errorf("session: %w", err)
			}
		}
	}
	if s.AccessCookie != "" && s.AccessCookie == s.RefreshCookie {
		return fmt.Errorf("session: access_cookie and refresh_cookie must differ (both are %q)", s.AccessCookie)
	}
	if _, err := session.ParseOrigins(s.Origins); err != nil {
		return fmt.Errorf("session: %w", err)
	}
	if s.CookieDomain != "" {
		cookies := session.Cookies{Access: s.AccessCookie, Refresh: s.RefreshCookie}
		if err := issuer.CheckCookieDomain(s.CookieDomain, cookies); err != nil {
			return fmt.Errorf("session: %w", err)
		}
	}
	if s.LoginOrigin != "" {
		if _, err := issuer.CheckLoginOrigin(s.LoginOrigin, s.CookieDomain); err != nil {
			return fmt.Errorf("session: %w", err)
		}
	}
	return nil
}

// config builds the issuer's session configuration, parsing the login page template.
func (s *IssuerSession) config() (*issuer.SessionConfig, error) {
	cfg := &issuer.SessionConfig{
		Cookies:      session.Cookies{Access: s.AccessCookie, Refresh: s.RefreshCookie},
		Origins:      s.Origins,
		CookieDomain: s.CookieDomain,
		LoginOrigin:  s.LoginOrigin,
	}
	if s.LoginPage != "" {
		t, err := loadLoginPage(s.LoginPage)
		if err != nil {
			return nil, err
		}
		cfg.LoginPage = t
	}
	return cfg, nil
}

// loadLoginPage parses a login page template file.
func loadLoginPage(path string) (*template.Template, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("session login_page: %v", err)
	}
	t, err := template.New(filepath.Base(path)).Parse(string(src))
	if err != nil {
		return nil, fmt.Errorf("session login_page %s: %v", path, err)
	}
	return t, nil
}

// settingsJSON is the configuration as JSON without Source, which says where the settings were
// written, not what they are.
func (c IssuerConfig) settingsJSON() ([]byte, error) {
	c.Source = ""
	return json.Marshal(c)
}

// checkCredentialsURL accepts https, or http to a loopback host only: the rule of jwks_url
// (internal/safeurl). Nothing is fetched.
func checkCredentialsURL(url string) error {
	if _, err := users.NewRemote(users.RemoteConfig{URL: url}); err != nil {
		return fmt.Errorf("credentials_url: %s", strings.TrimPrefix(err.Error(), "users: "))
	}
	return nil
}

// checkUserHash checks an inline user's password hash as a login would use it; the error never
// quotes the hash.
func checkUserHash(name, hash string) error {
	if _, err := users.NewLocal(users.LocalConfig{Users: []users.User{{Name: name, Hash: hash}}, Algorithms: hashAlgorithms}); err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "users: "))
	}
	return nil
}

// checkUserIDClaim refuses an inline user's claim that differs from user_id_claim only in case:
// verifiers would take the two for one claim.
func (c *IssuerConfig) checkUserIDClaim() error {
	if c.UserIDClaim == "" {
		return nil
	}
	for _, u := range c.Users {
		for name := range u.Claims {
			if name != c.UserIDClaim && strings.EqualFold(name, c.UserIDClaim) {
				return fmt.Errorf("user %s: claim %s differs from user_id_claim %s only in case; use one spelling", u.Name, name, c.UserIDClaim)
			}
		}
	}
	return nil
}

// checkSigningSecret checks a signing_key secret that is written out; one holding a placeholder
// is checked when the issuer is built, on the server that has the variable or the file.
func checkSigningSecret(secret string) error {
	if hasPlaceholder(secret) {
		return nil
	}
	_, err := mint.NewHMAC([]byte(secret))
	return err
}

// checkRotation checks rotate_keys (0: off): only a generated key (source auto) rotates, and
// against the token lifetimes (0 for the defaults) by the key ring's own rule.
func checkRotation(source string, rotate, access, refresh time.Duration) error {
	if rotate <= 0 {
		return nil
	}
	if source != keyAuto {
		return errors.New("rotate_keys works only with signing_key auto (generated keys); a configured key is rotated by changing the configuration")
	}
	if access == 0 {
		access = defaultAccessTTL
	}
	if refresh == 0 {
		refresh = defaultRefreshTTL
	}
	return mint.CheckRotation(rotate, ringConfig(nil, "", "", rotate, max(access, refresh), nil).KeepFor)
}

// errIssuerPassthrough refuses `cors passthrough` on an issuer.
var errIssuerPassthrough = errors.New("cors passthrough is for jwt_auth: the issuer answers its own endpoints; give cors { origins ... }")

// checkUserSources checks that users come from exactly one kind of source.
func checkUserSources(file, inline, remote bool) error {
	switch {
	case remote && (file || inline):
		return errors.New("credentials_url cannot be combined with users_file or user: the app behind it checks every password")
	case !remote && !file && !inline:
		return errors.New("jwt_issuer needs users: set users_file, user or credentials_url")
	}
	return nil
}

// issuerClaims are the claims the issuer sets itself; a user claim may not take their names.
var issuerClaims = []string{"token_type", "exp", "iat", "jti", "nbf", "iss", "aud", mint.FamilyClaim, mint.AMRClaim, mint.UsernameClaim}

// checkClaimName refuses an empty claim name and the names the issuer sets itself (compared
// ignoring case, as verifiers refuse names that differ only in case).
func checkClaimName(name string) error {
	if name == "" {
		return errors.New("claim: the name must not be empty")
	}
	for _, r := range issuerClaims {
		if strings.EqualFold(name, r) {
			return fmt.Errorf("claim %s is set by the issuer itself; choose another name", name)
		}
	}
	return nil
}

func checkAutoAlg(alg string) error {
	for _, a := range autoAlgs {
		if a == alg {
			return nil
		}
	}
	return fmt.Errorf("signing_key auto cannot generate %q keys; use ES256 (default), EdDSA or RS256", alg)
}

// checkTTL accepts 0 (the default) and lifetimes from a second to a year.
func checkTTL(name string, d time.Duration) error {
	if d != 0 && (d < time.Second || d > 366*24*time.Hour) {
		return fmt.Errorf("%s %s is out of range; use a duration from 1s to 8784h (a year)", name, d)
	}
	return nil
}

func checkLoginLimit(n int, per time.Duration, perUser int) error {
	attempts := n
	if attempts == 0 {
		attempts = defaultLoginAttempts
	}
	switch {
	case n < 0:
		return fmt.Errorf("login_limit %d is out of range; use a positive number of attempts", n)
	case per < 0 || (per > 0 && per < time.Second):
		return fmt.Errorf("login_limit per %s is out of range; use at least 1s", per)
	case perUser < 0:
		return fmt.Errorf("login_limit per_user %d is out of range; use a positive number of failures (default %d x attempts)", perUser, defaultPerUserFactor)
	case perUser > 0 && perUser < attempts:
		return fmt.Errorf("login_limit per_user %d is below the %d attempts per address: one address could then lock the user out; "+
			"use at least %d (default %d)", perUser, attempts, attempts, defaultPerUserFactor*attempts)
	}
	return nil
}

// authenticator builds the user check: a credentials URL, or local users.
func (c *IssuerConfig) authenticator(logger *zap.Logger) (users.Authenticator, error) {
	if c.CredentialsURL != "" {
		return users.NewRemote(users.RemoteConfig{URL: c.CredentialsURL})
	}
	inline, err := c.inlineUsers()
	if err != nil {
		return nil, err
	}
	return users.NewLocal(users.LocalConfig{
		Users:      inline,
		File:       c.UsersFile,
		Algorithms: hashAlgorithms,
		Gate:       hashGate(),
		Logger:     logger,
	})
}

// inlineUsers converts the configured users, decoding their claims (numbers kept exact).
func (c *IssuerConfig) inlineUsers() ([]users.User, error) {
	out := make([]users.User, 0, len(c.Users))
	for _, u := range c.Users {
		claims, err := decodeClaims(u.Claims)
		if err != nil {
			return nil, fmt.Errorf("user %q: %w", u.Name, err)
		}
		out = append(out, users.User{Name: u.Name, Hash: u.Hash, Claims: claims})
	}
	return out, nil
}

// decodeClaims decodes raw claim values, keeping numbers as json.Number so that a large user id
// keeps every digit.
func decodeClaims(raw map[string]json.RawMessage) (map[string]any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	out := make(map[string]any, len(raw))
	for name, v := range raw {
		dec := json.NewDecoder(bytes.NewReader(v))
		dec.UseNumber()
		var val any
		if err := dec.Decode(&val); err != nil {
			return nil, fmt.Errorf("claim %s is not a JSON value", name)
		}
		out[name] = val
	}
	return out, nil
}

// loadRing returns the key ring: the configured secret or key file, or the generated keys kept
// in storage (created on first start). longest is the longest token lifetime; rotations, when
// not nil, counts the rotations of generated keys.
func (c *IssuerConfig) loadRing(ctx context.Context, storage kv.Storage, prefix string, longest time.Duration, logger *zap.Logger, rotations prometheus.Counter) (*mint.Ring, error) {
	sk := c.signingKey()
	switch sk.Source {
	case keySecret:
		s, err := resolveSecret(sk.Secret)
		if err != nil {
			return nil, fmt.Errorf("signing_key %w", err)
		}
		signer, err := mint.NewHMAC([]byte(s))
		if err != nil {
			return nil, err
		}
		return mint.StaticRing(signer), nil
	case keyFile:
		signer, err := loadSigningPEM(sk.File)
		if err != nil {
			return nil, err
		}
		return mint.StaticRing(signer), nil
	}
	lctx, cancel := context.WithTimeout(ctx, provisionTimeout)
	defer cancel()
	rc := ringConfig(storage, prefix, sk.Alg, time.Duration(c.RotateKeys), longest, logger)
	if rotations != nil {
		rc.OnRotate = rotations.Inc
	}
	return mint.LoadRing(lctx, rc)
}

// storagePrefix is where in storage the issuer of this name keeps its generated keys and
// revocations.
func storagePrefix(name string) string {
	if name == defaultIssuer {
		return unnamedPrefix
	}
	return namedPrefix + name + "/"
}

// ringConfig is the configuration of a generated key ring. Retired keys are kept for the
// longest token lifetime plus the largest leeway a verifier may allow, and dropped after that
// even once rotation is switched off.
func ringConfig(storage kv.Storage, prefix, alg string, rotate, longest time.Duration, logger *zap.Logger) mint.RingConfig {
	return mint.RingConfig{
		Storage:     storage,
		Key:         prefix + "keys/" + alg + ".json",
		Alg:         alg,
		RotateEvery: rotate,
		KeepFor:     longest + verify.MaxLeeway,
		Logger:      logger,
	}
}

// loadSigningPEM reads and parses a signing_key file.
func loadSigningPEM(path string) (*mint.Signer, error) {
	origin := "signing_key file " + path
	data, err := readKeyFile(origin, path)
	if err != nil {
		return nil, err
	}
	s, err := mint.ParsePEM(data, "")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", origin, err)
	}
	return s, nil
}

// signingKey is the configured signing key with the defaults applied.
func (c *IssuerConfig) signingKey() SigningKey {
	sk := SigningKey{Source: keyAuto}
	if c.SigningKey != nil {
		sk = *c.SigningKey
	}
	if sk.Source == keyAuto && sk.Alg == "" {
		sk.Alg = defaultAutoAlg
	}
	return sk
}
