package caddyauth

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"path"
	"strings"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/gatehouse-dev/gatehouse/internal/kv"
	"github.com/gatehouse-dev/gatehouse/issuer"
)

func init() {
	caddy.RegisterModule(JWTIssuer{})
}

// JWTIssuer is the http.handlers.jwt_issuer module: the token endpoint. It trades a username
// and password for an access and a refresh token, refreshes, verifies and blacklists tokens and
// publishes the public keys, with the HTTP contract of djangorestframework-simplejwt's views
// (POST <base>/, <base>/refresh/, <base>/verify/, <base>/blacklist/, GET <base>/jwks.json). It
// answers every request it is given: it is terminal, so mount it on its own path. The work is
// done by package issuer; the issuer itself (users, keys, revocations) belongs to the gatehouse
// app, which builds each issuer once however many handlers serve it.
type JWTIssuer struct {
	// The name of the issuer this handler serves: its generated keys and revocations are kept
	// in storage under it (gatehouse/issuers/<name>/), and jwt_auth handlers of other sites
	// trust it by naming it in issuer_names. Lowercase letters, digits, "-" and "_". Default
	// "default", kept under gatehouse/issuer/ and trusted by the jwt_auth handlers of its own
	// site only; a configuration may have the default issuer configured inline in one site only.
	Name string `json:"name,omitempty"`
	// Where the endpoints are, e.g. "/api/token" for /api/token/, /api/token/refresh/...; ""
	// when mounted under handle_path. The Caddyfile takes it from a path matcher such as
	// /api/token/*.
	BasePath string `json:"base_path,omitempty"`
	// The issuer's settings, inline. Without any, the handler serves the issuer of its name
	// configured in the gatehouse app (the gatehouse global option). Handlers that configure
	// the same name inline must configure it alike.
	IssuerConfig

	handler *issuer.Handler
	core    *issuerCore
	// unregister removes the handler from the gatehouse app and releases its issuer.
	unregister func()
	logger     *zap.Logger
	// proxiesChecked is set (atomically) once warnLenientProxies has looked at a request.
	proxiesChecked uint32
}

// CaddyModule returns the Caddy module information.
func (JWTIssuer) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.jwt_issuer",
		New: func() caddy.Module { return new(JWTIssuer) },
	}
}

// defaultIssuer is the name of the issuer of a jwt_issuer without a name.
const defaultIssuer = "default"

// Provision finds or builds the issuer in the gatehouse app (loading the users and the signing
// key, creating a key on first start), and registers this handler there for the jwt_auth
// handlers that trust it.
func (j *JWTIssuer) Provision(ctx caddy.Context) error {
	return j.provision(ctx, ctx.Storage())
}

// provision is Provision with the storage given (tests give a kv.Memory). Its errors start with
// Source.
func (j *JWTIssuer) provision(ctx caddy.Context, storage kv.Storage) (err error) {
	defer func() { err = withSource(j.Source, err) }()
	j.logger = ctx.Logger()
	if err := j.Validate(); err != nil {
		return err
	}
	app, err := loadApp(ctx)
	if err != nil {
		return err
	}
	var inline *IssuerConfig
	if j.hasSettings() {
		inline = &j.IssuerConfig
	}
	core, release, err := app.acquireIssuer(ctx, storage, j.issuerName(), inline, j.logger)
	if err != nil {
		return err
	}
	j.core = core
	if core.cfg.Session != nil && j.BasePath == "" {
		release()
		return errors.New("session needs base_path (mount the issuer with a path matcher such as /api/token/*): jwt_auth finds the sessions by it")
	}
	hcfg := core.handlerConfig(j.BasePath, j.logger)
	if hcfg.Events, err = issuerEvents(ctx.GetMetricsRegistry(), core.name); err != nil {
		release()
		return err
	}
	if j.handler, err = issuer.New(hcfg); err != nil {
		release()
		return err
	}
	unregister, err := app.registerIssuer(&issuerEntry{
		name:     core.name,
		inline:   inline != nil,
		handler:  j,
		base:     j.BasePath,
		keys:     core.ring,
		sessions: j.handler.Sessions(),
	})
	if err != nil {
		release()
		return err
	}
	j.unregister = func() { unregister(); release() }
	return nil
}

// issuerName is the name of the issuer the handler serves.
func (j *JWTIssuer) issuerName() string {
	if j.Name == "" {
		return defaultIssuer
	}
	return j.Name
}

// hasSettings reports whether the handler configures its issuer inline (Source is no setting).
func (j *JWTIssuer) hasSettings() bool {
	raw, err := j.IssuerConfig.settingsJSON()
	return err != nil || string(raw) != "{}"
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

// Validate checks the configuration; the Caddyfile parser runs the same checks with file:line.
// It reads no file and resolves no placeholder: Provision does. Its errors start with Source.
func (j *JWTIssuer) Validate() (err error) {
	defer func() { err = withSource(j.Source, err) }()
	if j.Name != "" {
		if err := checkIssuerName(j.Name); err != nil {
			return err
		}
	}
	if err := checkBasePath(j.BasePath); err != nil {
		return err
	}
	if j.hasSettings() || j.Name == "" {
		// An unnamed handler always configures the default issuer inline: validate says
		// what it lacks (users, most likely).
		if err := j.IssuerConfig.validate(); err != nil {
			return err
		}
		if j.Session != nil && j.BasePath == "" {
			return errors.New("session needs base_path (mount the issuer with a path matcher such as /api/token/*): jwt_auth finds the sessions by it")
		}
	}
	return nil
}

// maxIssuerName bounds an issuer name, which becomes part of storage keys.
const maxIssuerName = 64

// checkIssuerName accepts lowercase letters, digits, "-" and "_", as a name becomes a storage
// path element on every storage backend.
func checkIssuerName(name string) error {
	ok := name != "" && len(name) <= maxIssuerName
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_'
	}
	if !ok {
		return fmt.Errorf("name %q must be 1 to %d lowercase letters, digits, - or _, e.g. shop", name, maxIssuerName)
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

// Cleanup removes the handler from the gatehouse app; the last handler of an issuer releases it.
// jwt_auth handlers of a newer config already see that config's issuers. It may run more than
// once.
func (j *JWTIssuer) Cleanup() error {
	if j.unregister != nil {
		j.unregister()
		j.unregister = nil
	}
	return nil
}

// ServeHTTP answers the request with the token endpoints. It never calls next: everything under
// the issuer's path is the issuer's (unknown paths get 404).
func (j *JWTIssuer) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	j.warnLenientProxies(r)
	if j.core.cfg.Session != nil {
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
