package caddyauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	caddyhashes "github.com/caddyserver/caddy/v2/modules/caddyhttp/caddyauth"

	"github.com/gatehouse-dev/gatehouse/issuer"
	"github.com/gatehouse-dev/gatehouse/issuer/kv"
	"github.com/gatehouse-dev/gatehouse/issuer/limit"
	"github.com/gatehouse-dev/gatehouse/issuer/mint"
	"github.com/gatehouse-dev/gatehouse/issuer/revoke"
	"github.com/gatehouse-dev/gatehouse/issuer/users"
	"github.com/gatehouse-dev/gatehouse/session"
	"github.com/gatehouse-dev/gatehouse/verify"
)

func init() {
	caddy.RegisterModule(JWTIssuer{})
}

// JWTIssuer is the http.handlers.jwt_issuer module: the token endpoint. It trades a username
// and password for an access and a refresh token, refreshes, verifies and blacklists tokens and
// publishes the public keys, with the HTTP contract of djangorestframework-simplejwt's views
// (POST <base>/, <base>/refresh/, <base>/verify/, <base>/blacklist/, GET <base>/jwks.json). It
// answers every request it is given: it is terminal, so mount it on its own path. The work is
// done by package issuer; this module wires it to Caddy's storage, logs and client IP.
type JWTIssuer struct {
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
	// Where the endpoints are, e.g. "/api/token" for /api/token/, /api/token/refresh/...; ""
	// when mounted under handle_path. The Caddyfile takes it from a path matcher such as
	// /api/token/*.
	BasePath string `json:"base_path,omitempty"`
	// The realm in the WWW-Authenticate header of 401 answers. Default "api".
	Realm string `json:"realm,omitempty"`
	// Turns on browser sessions: a login page at <base>/login whose form sets the tokens in
	// HttpOnly cookies, logout at <base>/logout, and renewal of the access cookie by the
	// jwt_auth handlers that name this issuer's base path in their session setting. Needs
	// base_path.
	Session *IssuerSession `json:"session,omitempty"`

	handler    *issuer.Handler
	ring       *mint.Ring
	store      *revoke.Store
	unregister func() // removes ring from the issuers registry, and the sessions from theirs
	stop       context.CancelFunc
	stopped    chan struct{} // closed when the maintenance goroutine has returned
	logger     *zap.Logger
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
	// Other origins (scheme://host[:port]) whose pages may post the login and logout forms and
	// send state-changing requests with the session cookie. The site's own origin always may.
	Origins []string `json:"origins,omitempty"`
}

// LoginLimit limits login attempts, per client IP and per username, before any password check.
type LoginLimit struct {
	// Turns the limits off.
	Off bool `json:"off,omitempty"`
	// Attempts allowed per window. Default 20.
	Attempts int `json:"attempts,omitempty"`
	// The window. Default 1m.
	Per caddy.Duration `json:"per,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (JWTIssuer) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.jwt_issuer",
		New: func() caddy.Module { return new(JWTIssuer) },
	}
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
	// keyRingPrefix + alg + ".json" is where a generated key ring is kept.
	keyRingPrefix = "gatehouse/issuer/keys/"
	// revokePrefix is where blacklisted ids and refresh families are kept.
	revokePrefix = "gatehouse/issuer/revoke"
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
// (and across reloads), so a login flood leaves cores for other traffic.
var hashGate = sync.OnceValue(func() *limit.Gate { return limit.NewGate(0) })

// Provision checks the configuration, loads the users and the signing key (creating a key on
// first start), and registers the key ring for jwt_auth handlers without key settings.
func (j *JWTIssuer) Provision(ctx caddy.Context) error {
	return j.provision(ctx, ctx.Storage())
}

// provision is Provision with the storage given (tests give a kv.Memory).
func (j *JWTIssuer) provision(ctx caddy.Context, storage kv.Storage) error {
	j.logger = ctx.Logger()
	if err := j.Validate(); err != nil {
		return err
	}
	access, refresh := time.Duration(j.AccessTTL), time.Duration(j.RefreshTTL)
	if access == 0 {
		access = defaultAccessTTL
	}
	if refresh == 0 {
		refresh = defaultRefreshTTL
	}

	auth, err := j.authenticator()
	if err != nil {
		return err
	}
	if j.ring, err = j.loadRing(ctx, storage, max(access, refresh)); err != nil {
		return err
	}
	minter, err := mint.NewMinter(mint.Config{
		Issuer:      j.Issuer,
		Audience:    j.Audiences,
		AccessTTL:   access,
		RefreshTTL:  refresh,
		UserIDClaim: j.UserIDClaim,
	}, j.ring)
	if err != nil {
		return err
	}
	if j.store, err = revoke.New(revoke.Config{Storage: storage, Prefix: revokePrefix, Logger: j.logger}); err != nil {
		return err
	}
	cfg := issuer.Config{
		Users:         auth,
		Ring:          j.ring,
		Minter:        minter,
		Store:         j.store,
		RotateRefresh: j.RotateRefresh,
		Issuer:        j.Issuer,
		Audience:      j.Audiences,
		ClientIP:      clientIP,
		BasePath:      j.BasePath,
		Realm:         j.Realm,
		Logger:        j.logger,
	}
	if ll := j.LoginLimit; ll == nil || !ll.Off {
		n, per := defaultLoginAttempts, defaultLoginWindow
		if ll != nil && ll.Attempts > 0 {
			n = ll.Attempts
		}
		if ll != nil && ll.Per > 0 {
			per = time.Duration(ll.Per)
		}
		cfg.IPLimit = limit.NewLimiter(n, per, 0)
		cfg.UserLimit = limit.NewLimiter(n, per, 0)
	}
	if j.Session != nil {
		if cfg.Session, err = j.Session.config(); err != nil {
			return err
		}
	}
	if j.handler, err = issuer.New(cfg); err != nil {
		return err
	}

	unregisterKeys := issuers.register(j.ring)
	j.unregister = unregisterKeys
	if s := j.handler.Sessions(); s != nil {
		unregisterSessions := sessions.register(j.BasePath, s)
		j.unregister = func() { unregisterKeys(); unregisterSessions() }
	}
	mctx, stop := context.WithCancel(context.Background())
	j.stop, j.stopped = stop, make(chan struct{})
	go j.maintain(mctx)
	return nil
}

// authenticator builds the user check: a credentials URL, or local users.
func (j *JWTIssuer) authenticator() (users.Authenticator, error) {
	if j.CredentialsURL != "" {
		return users.NewRemote(users.RemoteConfig{URL: j.CredentialsURL})
	}
	inline, err := j.inlineUsers()
	if err != nil {
		return nil, err
	}
	return users.NewLocal(users.LocalConfig{
		Users:      inline,
		File:       j.UsersFile,
		Algorithms: hashAlgorithms,
		Gate:       hashGate(),
		Logger:     j.logger,
	})
}

// inlineUsers converts the configured users, decoding their claims (numbers kept exact).
func (j *JWTIssuer) inlineUsers() ([]users.User, error) {
	out := make([]users.User, 0, len(j.Users))
	for _, u := range j.Users {
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
// in storage (created on first start). longest is the longest token lifetime.
func (j *JWTIssuer) loadRing(ctx caddy.Context, storage kv.Storage, longest time.Duration) (*mint.Ring, error) {
	sk := j.signingKey()
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
	return mint.LoadRing(lctx, ringConfig(storage, sk.Alg, time.Duration(j.RotateKeys), longest, j.logger))
}

// ringConfig is the configuration of a generated key ring. Retired keys are kept for the
// longest token lifetime plus the largest leeway a verifier may allow, and dropped after that
// even once rotation is switched off.
func ringConfig(storage kv.Storage, alg string, rotate, longest time.Duration, logger *zap.Logger) mint.RingConfig {
	return mint.RingConfig{
		Storage:     storage,
		Key:         keyRingPrefix + alg + ".json",
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
func (j *JWTIssuer) signingKey() SigningKey {
	sk := SigningKey{Source: keyAuto}
	if j.SigningKey != nil {
		sk = *j.SigningKey
	}
	if sk.Source == keyAuto && sk.Alg == "" {
		sk.Alg = defaultAutoAlg
	}
	return sk
}

// maintain rotates and drops keys and purges expired revocations every maintainEvery, until
// ctx ends. Failures are logged: the keys in memory keep working, and a purge not done now is
// done next time.
func (j *JWTIssuer) maintain(ctx context.Context) {
	defer close(j.stopped)
	t := time.NewTicker(maintainEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := j.ring.Maintain(ctx); err != nil && ctx.Err() == nil {
			j.logger.Error("signing key maintenance failed", zap.Error(err))
		}
		if n, err := j.store.Purge(ctx); err != nil && ctx.Err() == nil {
			j.logger.Error("purging expired revocations failed", zap.Error(err))
		} else if n > 0 {
			j.logger.Debug("purged expired revocations", zap.Int("entries", n))
		}
	}
}

// clientIP is the client address Caddy determined (honouring trusted_proxies), falling back to
// the connection's.
func clientIP(r *http.Request) string {
	if ip, ok := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string); ok && ip != "" {
		return ip
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// Validate checks the configuration; the Caddyfile parser runs the same checks, and those that
// read files, with file:line.
func (j *JWTIssuer) Validate() error {
	if err := checkUserSources(j.UsersFile != "", len(j.Users) > 0, j.CredentialsURL != ""); err != nil {
		return err
	}
	for i, u := range j.Users {
		if u.Name == "" {
			return fmt.Errorf("user %d has no name", i+1)
		}
		for name := range u.Claims {
			if err := checkClaimName(name); err != nil {
				return fmt.Errorf("user %s: %w", u.Name, err)
			}
		}
	}
	sk := j.signingKey()
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
	default:
		return fmt.Errorf("signing_key %q is unknown; use auto, file or secret", sk.Source)
	}
	if j.RotateKeys != 0 && sk.Source != keyAuto {
		return errors.New("rotate_keys works only with signing_key auto (generated keys); a configured key is rotated by changing the configuration")
	}
	if j.RotateKeys < 0 {
		return errors.New("rotate_keys must be a positive duration")
	}
	for _, d := range []struct {
		name string
		v    caddy.Duration
	}{{"access_ttl", j.AccessTTL}, {"refresh_ttl", j.RefreshTTL}} {
		if err := checkTTL(d.name, time.Duration(d.v)); err != nil {
			return err
		}
	}
	if ll := j.LoginLimit; ll != nil && !ll.Off {
		if err := checkLoginLimit(ll.Attempts, time.Duration(ll.Per)); err != nil {
			return err
		}
	}
	if err := checkBasePath(j.BasePath); err != nil {
		return err
	}
	for _, a := range j.Audiences {
		if a == "" {
			return errors.New("audience must not contain an empty value")
		}
	}
	if j.Realm != "" {
		if err := checkRealm(j.Realm); err != nil {
			return err
		}
	}
	if j.Session != nil {
		if err := j.Session.validate(); err != nil {
			return err
		}
		if j.BasePath == "" {
			return errors.New("session needs base_path (mount the issuer with a path matcher such as /api/token/*): jwt_auth finds the sessions by it")
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
	for _, o := range s.Origins {
		if _, err := session.NormalizeOrigin(o); err != nil {
			return fmt.Errorf("session: %w", err)
		}
	}
	return nil
}

// config builds the issuer's session configuration, parsing the login page template.
func (s *IssuerSession) config() (*issuer.SessionConfig, error) {
	cfg := &issuer.SessionConfig{
		Cookies: session.Cookies{Access: s.AccessCookie, Refresh: s.RefreshCookie},
		Origins: s.Origins,
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
var issuerClaims = []string{"token_type", "exp", "iat", "jti", "nbf", "iss", "aud", mint.FamilyClaim}

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

func checkLoginLimit(n int, per time.Duration) error {
	switch {
	case n < 0:
		return fmt.Errorf("login_limit %d is out of range; use a positive number of attempts", n)
	case per < 0 || (per > 0 && per < time.Second):
		return fmt.Errorf("login_limit per %s is out of range; use at least 1s", per)
	}
	return nil
}

// checkBasePath accepts "" and a clean absolute path without a trailing slash.
func checkBasePath(p string) error {
	if p != "" && (p[0] != '/' || path.Clean(p) != p || p == "/" || strings.ContainsAny(p, "*?[]{}%")) {
		return fmt.Errorf("base_path %q must be a clean absolute path without a trailing slash or wildcards, such as /api/token (or empty under handle_path)", p)
	}
	return nil
}

// Cleanup stops the maintenance and removes the key ring from the registry; jwt_auth handlers of
// a newer config already see that config's issuers. It may run more than once.
func (j *JWTIssuer) Cleanup() error {
	if j.stop != nil {
		j.stop()
		<-j.stopped
		j.stop = nil
	}
	if j.unregister != nil {
		j.unregister()
		j.unregister = nil
	}
	return nil
}

// ServeHTTP answers the request with the token endpoints. It never calls next: everything under
// the issuer's path is the issuer's (unknown paths get 404).
func (j *JWTIssuer) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	if j.Session != nil {
		r = markForwardedHTTPS(r)
	}
	j.handler.ServeHTTP(w, r)
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*JWTIssuer)(nil)
	_ caddy.Validator             = (*JWTIssuer)(nil)
	_ caddy.CleanerUpper          = (*JWTIssuer)(nil)
	_ caddyhttp.MiddlewareHandler = (*JWTIssuer)(nil)
)
