package caddyauth

import (
	"cmp"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/gatehouse-dev/gatehouse/internal/claimvalue"
	"github.com/gatehouse-dev/gatehouse/internal/redisstore"
	"github.com/gatehouse-dev/gatehouse/internal/session"
)

func init() {
	// A directive rather than a handler directive, to see the matcher: a single path matcher
	// such as /api/token/* tells where the endpoints are.
	httpcaddyfile.RegisterDirective("jwt_issuer", parseIssuerCaddyfile)
	// After basic_auth, like jwt_auth, and so (this file's init runs after caddyfile.go's) right
	// before jwt_auth: a login route must be reachable without a token even when jwt_auth
	// covers the whole site.
	httpcaddyfile.RegisterDirectiveOrder("jwt_issuer", httpcaddyfile.After, "basic_auth")
}

// parseIssuerCaddyfile sets up the handler and its route from Caddyfile tokens.
func parseIssuerCaddyfile(h httpcaddyfile.Helper) ([]httpcaddyfile.ConfigValue, error) {
	if !h.Next() {
		return nil, h.ArgErr()
	}
	matcherSet, err := h.ExtractMatcherSet()
	if err != nil {
		return nil, err
	}
	j := new(JWTIssuer)
	if err := j.UnmarshalCaddyfile(h.Dispenser); err != nil {
		return nil, err
	}
	if j.BasePath == "" && matcherSet != nil {
		base, err := basePathOf(matcherSet)
		if err != nil {
			h.Reset()
			h.Next()
			return nil, h.Errf("%v", err)
		}
		j.BasePath = base
	}
	if j.Session != nil && j.BasePath == "" {
		h.Reset()
		h.Next()
		return nil, h.Err("session needs the issuer's base path: mount it with a path matcher such as /api/token/* (jwt_auth names it in its session setting)")
	}
	return h.NewRoute(matcherSet, j), nil
}

// basePathOf returns the base path a matcher set implies: for a single path matcher with a
// single path, the path without its trailing "/*", "*" or "/" (/api/token/* -> /api/token); for
// any other matcher "", the endpoints then being expected at the root of what reaches the
// handler (as under handle_path).
func basePathOf(ms caddy.ModuleMap) (string, error) {
	raw, ok := ms["path"]
	if !ok || len(ms) != 1 {
		return "", nil
	}
	var paths caddyhttp.MatchPath
	if err := json.Unmarshal(raw, &paths); err != nil || len(paths) != 1 {
		return "", nil
	}
	p := paths[0]
	switch {
	case strings.HasSuffix(p, "/*"):
		p = p[:len(p)-2]
	case strings.HasSuffix(p, "*"):
		p = p[:len(p)-1]
	}
	p = strings.TrimSuffix(p, "/")
	if err := checkBasePath(p); err != nil {
		return "", fmt.Errorf("cannot take base_path from the path matcher %q (use one such as /api/token/*, or set base_path): %v", paths[0], err)
	}
	return p, nil
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens (the matcher, if any, was taken
// off by the directive). Syntax:
//
//	jwt_issuer [<matcher>] [<name>] {
//	    name            <name>
//	    users_file      <path>
//	    user            <name> <hash> {
//	        claim <name> <value...>
//	    }
//	    credentials_url <url>
//	    signing_key     auto [ES256|EdDSA|RS256] | file <private.pem> | secret <secret>
//	    issuer          <iss>
//	    audience        <aud...>
//	    access_ttl      <duration>
//	    refresh_ttl     <duration>
//	    rotate_refresh
//	    rotate_keys     <interval>
//	    user_id_claim   <name>
//	    login_limit     <n> per <duration> [per_user <m>] | off
//	    base_path       <path>
//	    realm           <realm>
//	    cors {
//	        origins <origin|https://*.domain|*...>
//	        methods, headers, credentials, max_age as for jwt_auth
//	    }
//	    session {
//	        access_cookie  <name>
//	        refresh_cookie <name>
//	        login_page     <template file>
//	        origin         <scheme://host[:port]...>
//	    }
//	}
//
// The parser reads tokens only: every setting is checked here as far as it can be without a file,
// an environment variable or key material, and reported with its Caddyfile line. The users
// file, the signing key file, the login page template and the placeholders of a secret are
// loaded when the configuration is (Provision), on the server that has them, so `caddy adapt`
// runs anywhere; those errors start with the directive's file:line (Source).
func (j *JWTIssuer) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume directive name
	j.Source = sourceOf(d)
	opts := newOptionBlock(d, "jwt_issuer")
	if d.NextArg() {
		// jwt_issuer <name>: the issuer of that name, configured in the gatehouse global
		// options when no block follows.
		j.Name = d.Val()
		if err := checkIssuerName(j.Name); err != nil {
			return d.Errf("%v", err)
		}
		if d.NextArg() {
			return d.Errf("jwt_issuer takes at most a matcher and a name before its block, e.g. jwt_issuer /api/token/* shop; %s after the matcher", gotValues(2+d.CountRemainingArgs()))
		}
	}

	once, at := opts.once, opts.at
	duration := func(name string) (time.Duration, error) {
		var v string
		if !d.AllArgs(&v) {
			return 0, opts.argErr()
		}
		dur, err := caddy.ParseDuration(v)
		if err != nil {
			return 0, d.Errf("%s %q is not a duration (e.g. 5m, 24h): %v", name, v, err)
		}
		return dur, nil
	}
	userNames := make(map[string]bool)

	for opts.next() {
		name := d.Val()
		switch name {
		case "users_file":
			if err := once(name); err != nil {
				return err
			}
			if !d.AllArgs(&j.UsersFile) {
				return opts.argErr()
			}
			if err := checkFileName(name, j.UsersFile); err != nil {
				return d.Errf("%v", err)
			}

		case "user":
			u, err := parseIssuerUser(d)
			if err != nil {
				return err
			}
			if userNames[u.Name] {
				return d.Errf("user %q is configured twice; keep one", u.Name)
			}
			userNames[u.Name] = true
			j.Users = append(j.Users, u)

		case "credentials_url":
			v, err := opts.single(name, checkCredentialsURL)
			if err != nil {
				return err
			}
			j.CredentialsURL = v

		case "signing_key":
			if err := once(name); err != nil {
				return err
			}
			sk, err := parseSigningKey(d)
			if err != nil {
				return err
			}
			j.SigningKey = sk

		case "name":
			if err := once(name); err != nil {
				return err
			}
			if j.Name != "" {
				return d.Errf("the name is already given after jwt_issuer (%s); give it once", j.Name)
			}
			if !d.AllArgs(&j.Name) {
				return d.Errf("name takes one value, e.g. name shop")
			}
			if err := checkIssuerName(j.Name); err != nil {
				return d.Errf("%v", err)
			}

		case "cors":
			if err := once(name); err != nil {
				return err
			}
			c, err := parseCORS(d)
			if err != nil {
				return err
			}
			if c.Passthrough {
				return d.Errf("%v", errIssuerPassthrough)
			}
			j.CORS = c

		case "issuer":
			if err := once(name); err != nil {
				return err
			}
			if !d.AllArgs(&j.Issuer) {
				return d.Errf("issuer takes one value, e.g. issuer https://example.com")
			}
			if j.Issuer == "" {
				return d.Err("issuer must not be empty")
			}

		case "audience":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return opts.argErr()
			}
			for _, a := range args {
				if a == "" {
					return d.Err("audience must not contain an empty value")
				}
			}
			j.Audiences = append(j.Audiences, args...)

		case "access_ttl", "refresh_ttl":
			if err := once(name); err != nil {
				return err
			}
			dur, err := duration(name)
			if err != nil {
				return err
			}
			if dur == 0 {
				return d.Errf("%s must be positive, e.g. 5m", name)
			}
			if err := checkTTL(name, dur); err != nil {
				return d.Errf("%v", err)
			}
			if name == "access_ttl" {
				j.AccessTTL = caddy.Duration(dur)
			} else {
				j.RefreshTTL = caddy.Duration(dur)
			}

		case "rotate_refresh":
			if err := once(name); err != nil {
				return err
			}
			if d.NextArg() {
				return opts.argErr()
			}
			j.RotateRefresh = true

		case "rotate_keys":
			if err := once(name); err != nil {
				return err
			}
			dur, err := duration(name)
			if err != nil {
				return err
			}
			if dur <= 0 {
				return d.Err("rotate_keys must be a positive interval, e.g. 720h")
			}
			j.RotateKeys = caddy.Duration(dur)

		case "user_id_claim":
			if err := once(name); err != nil {
				return err
			}
			if !d.AllArgs(&j.UserIDClaim) {
				return opts.argErr()
			}
			if err := checkClaimName(j.UserIDClaim); err != nil {
				return d.Errf("user_id_claim: %v", err)
			}

		case "store":
			if err := once(name); err != nil {
				return err
			}
			st, err := parseStore(d)
			if err != nil {
				return err
			}
			j.Store = st

		case "login_limit":
			if err := once(name); err != nil {
				return err
			}
			ll, err := parseLoginLimit(d)
			if err != nil {
				return err
			}
			j.LoginLimit = ll

		case "base_path":
			v, err := opts.single(name, checkBasePath)
			if err != nil {
				return err
			}
			j.BasePath = v

		case "realm":
			v, err := opts.single(name, checkRealm)
			if err != nil {
				return err
			}
			j.Realm = v

		case "session":
			if err := once(name); err != nil {
				return err
			}
			sess, err := parseIssuerSession(d)
			if err != nil {
				return err
			}
			j.Session = sess

		default:
			return opts.unknown()
		}
	}

	// Checks that need the whole block. A name without settings serves the issuer of that name
	// from the gatehouse global options; it is looked up when the configuration loads.
	if j.Name != "" && !j.hasSettings() {
		return nil
	}
	if err := checkUserSources(j.UsersFile != "", len(j.Users) > 0, j.CredentialsURL != ""); err != nil {
		if j.CredentialsURL != "" {
			return at("credentials_url", err)
		}
		return opts.atHead(err)
	}
	if err := checkRotation(j.signingKey().Source, time.Duration(j.RotateKeys), time.Duration(j.AccessTTL), time.Duration(j.RefreshTTL)); err != nil {
		return at("rotate_keys", err)
	}
	if err := j.checkUserIDClaim(); err != nil {
		return at("user_id_claim", err)
	}
	return nil
}

// parseIssuerUser parses `user <name> <hash> [{ claim <name> <value...> }]`, checking the hash.
func parseIssuerUser(d *caddyfile.Dispenser) (IssuerUser, error) {
	var u IssuerUser
	opts := newOptionBlock(d, "user")
	if !d.AllArgs(&u.Name, &u.Hash) {
		return u, d.Errf("user takes a name and a password hash, e.g. user alice $2a$14$... (make the hash with `caddy hash-password`)")
	}
	if u.Name == "" {
		return u, d.Err("user: the name must not be empty")
	}
	if err := checkUserHash(u.Name, u.Hash); err != nil {
		return u, d.Errf("%v", err)
	}
	for opts.next() {
		if d.Val() != "claim" {
			return u, opts.unknown()
		}
		// Tokens rather than strings: a quoted value is a string, whatever it looks like.
		args := d.RemainingArgsAsTokens()
		if len(args) < 2 {
			return u, d.Errf("claim takes a name and at least one value, e.g. claim user_id 7 or claim roles admin editor")
		}
		name := args[0].Text
		if err := checkClaimName(name); err != nil {
			return u, d.Errf("%v", err)
		}
		for c := range u.Claims {
			if strings.EqualFold(c, name) {
				return u, d.Errf("claim %s is already set for user %s (names differing only in case are one claim to verifiers)", name, u.Name)
			}
		}
		if u.Claims == nil {
			u.Claims = make(map[string]json.RawMessage)
		}
		vals := make([]claimvalue.Value, 0, len(args)-1)
		for _, a := range args[1:] {
			vals = append(vals, claimvalue.Value{Text: a.Text, Quoted: a.Quoted()})
		}
		u.Claims[name] = claimvalue.Encode(vals...)
	}
	return u, nil
}

// parseSigningKey parses `signing_key auto [alg] | file <path> | secret <secret>`. The file and
// the secret's placeholders are loaded when the issuer is built.
func parseSigningKey(d *caddyfile.Dispenser) (*SigningKey, error) {
	args := d.RemainingArgs()
	if len(args) == 0 {
		return nil, d.Errf("signing_key takes auto [ES256|EdDSA|RS256], file <private.pem> or secret <secret>")
	}
	sk := &SigningKey{Source: args[0]}
	switch args[0] {
	case keyAuto:
		if len(args) > 2 {
			return nil, d.Errf("signing_key auto takes at most the algorithm, e.g. signing_key auto EdDSA; %s", gotValues(len(args)-1))
		}
		if len(args) == 2 {
			sk.Alg = args[1]
		}
		if err := checkAutoAlg(cmp.Or(sk.Alg, defaultAutoAlg)); err != nil {
			return nil, d.Errf("%v", err)
		}
	case keyFile:
		if len(args) != 2 {
			return nil, d.Errf("signing_key file takes the path of a PEM private key, e.g. signing_key file /etc/caddy/jwt.pem")
		}
		sk.File = args[1]
		if err := checkFileName("signing_key file", sk.File); err != nil {
			return nil, d.Errf("%v", err)
		}
	case keySecret:
		if len(args) != 2 || args[1] == "" {
			return nil, d.Errf("signing_key secret takes the secret, at least 32 bytes, e.g. signing_key secret {env.JWT_SECRET}")
		}
		sk.Secret = args[1]
		if err := checkSigningSecret(sk.Secret); err != nil {
			return nil, d.Errf("%v", err)
		}
	default:
		return nil, d.Errf("signing_key %q is unknown; use auto [ES256|EdDSA|RS256], file <private.pem> or secret <secret>", args[0])
	}
	return sk, nil
}

// parseLoginLimit parses `login_limit <n> per <duration> [per_user <m>] | off`.
func parseLoginLimit(d *caddyfile.Dispenser) (*LoginLimit, error) {
	args := d.RemainingArgs()
	if len(args) == 1 && args[0] == "off" {
		return &LoginLimit{Off: true}, nil
	}
	if (len(args) != 3 && len(args) != 5) || args[1] != "per" || (len(args) == 5 && args[3] != "per_user") {
		return nil, d.Errf("login_limit takes <n> per <duration> [per_user <m>] or off, e.g. login_limit 20 per 1m per_user 200")
	}
	perUser := 0
	if len(args) == 5 {
		m, err := strconv.Atoi(args[4])
		if err != nil || m < 1 {
			return nil, d.Errf("login_limit per_user %q is not a positive number of failures", args[4])
		}
		perUser = m
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 1 {
		return nil, d.Errf("login_limit %q is not a positive number of attempts", args[0])
	}
	per, err := caddy.ParseDuration(args[2])
	if err != nil || per <= 0 {
		return nil, d.Errf("login_limit per %q is not a positive duration (e.g. 1m)", args[2])
	}
	if err := checkLoginLimit(n, per, perUser); err != nil {
		return nil, d.Errf("%v", err)
	}
	return &LoginLimit{Attempts: n, Per: caddy.Duration(per), PerUser: perUser}, nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*JWTIssuer)(nil)

// parseIssuerSession parses the session setting: alone for the defaults, or with a block. The
// login page template is read and parsed when the issuer is built.
func parseIssuerSession(d *caddyfile.Dispenser) (*IssuerSession, error) {
	opts := newOptionBlock(d, "session")
	if d.NextArg() {
		return nil, takesErr(d, "jwt_issuer", "session", 1+d.CountRemainingArgs())
	}
	s := new(IssuerSession)
	for opts.next() {
		name := d.Val()
		if _, seen := opts.seen[name]; seen {
			return nil, d.Errf("session %s is already set; give it once", name)
		}
		opts.seen[name] = d.Token()
		switch name {
		case "access_cookie", "refresh_cookie":
			var v string
			if !d.AllArgs(&v) {
				return nil, opts.argErr()
			}
			if err := session.CheckCookieName(v); err != nil {
				return nil, d.Errf("session %s: %v", name, err)
			}
			if name == "access_cookie" {
				s.AccessCookie = v
			} else {
				s.RefreshCookie = v
			}
		case "login_page":
			if !d.AllArgs(&s.LoginPage) {
				return nil, opts.argErr()
			}
			if err := checkFileName("session login_page", s.LoginPage); err != nil {
				return nil, d.Errf("%v", err)
			}
		case "origin":
			s.Origins = d.RemainingArgs()
			if len(s.Origins) == 0 {
				return nil, opts.argErr()
			}
			for _, o := range s.Origins {
				if _, err := session.NormalizeOrigin(o); err != nil {
					return nil, d.Errf("session %v", err)
				}
			}
		default:
			return nil, opts.unknown()
		}
	}
	if err := s.validate(); err != nil {
		return nil, opts.atHead(err)
	}
	return s, nil
}

// parseStore reads `store redis <url> [{ prefix <prefix> }]`.
func parseStore(d *caddyfile.Dispenser) (*IssuerStore, error) {
	opts := newOptionBlock(d, "store")
	var kind, u string
	if !d.Args(&kind, &u) || kind != "redis" {
		return nil, d.Err("store takes a backend and its address: store redis <url>, e.g. store redis redis://127.0.0.1:6379/0")
	}
	if n := d.CountRemainingArgs(); n > 0 {
		return nil, d.Errf("store takes a backend and its address: store redis <url>, e.g. store redis redis://127.0.0.1:6379/0; %s", gotValues(n+2))
	}
	st := &IssuerStore{Redis: u}
	for opts.next() {
		switch name := d.Val(); name {
		case "prefix":
			v, err := opts.single(name, redisstore.CheckPrefix)
			if err != nil {
				return nil, err
			}
			st.Prefix = v
		default:
			return nil, opts.unknown()
		}
	}
	if err := checkStore(st); err != nil {
		return nil, opts.atHead(err)
	}
	return st, nil
}
