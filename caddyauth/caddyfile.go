package caddyauth

import (
	"fmt"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/gatehouse-dev/gatehouse/internal/keys"
	"github.com/gatehouse-dev/gatehouse/internal/verify"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("jwt_auth", parseCaddyfile)
	// Right after basic_auth, with the other authentication handlers: before anything that
	// answers or proxies the request, so no `order` global option is needed.
	httpcaddyfile.RegisterDirectiveOrder("jwt_auth", httpcaddyfile.After, "basic_auth")
}

// parseCaddyfile sets up the handler from Caddyfile tokens.
func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	j := new(JWTAuth)
	if err := j.UnmarshalCaddyfile(h.Dispenser); err != nil {
		return nil, err
	}
	return j, nil
}

// sourceKinds maps the from_* subdirectives to token sources.
var sourceKinds = map[string]string{
	"from_header": verify.FromHeader,
	"from_cookie": verify.FromCookie,
	"from_query":  verify.FromQuery,
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	jwt_auth [<matcher>] {
//	    secret         <string|{env.X}|{file./path}>
//	    public_key     <file.pem>
//	    jwks_file      <file.json>
//	    jwks_url       <url> [refresh <duration>]
//	    algorithms     <alg...>
//	    issuer         <iss...>
//	    audience       <aud...>
//	    leeway         <duration>
//	    token_type     <value|off>
//	    typ            <media type...>
//	    from_header    <name> [<scheme>...]
//	    from_cookie    <name>
//	    from_query     <name>
//	    user_claim     <claim...>
//	    forward_claim  <claim> <Header-Name>
//	    require        <claim> <value...>
//	    optional
//	    max_token_size <bytes>
//	    cache_size     <tokens|off>
//	    realm          <realm>
//	    session        <issuer base path>
//	    issuer_name    <jwt_issuer name...>
//	    cors           passthrough | {
//	        origins     <origin|https://*.domain|*...>
//	        methods     <method...>
//	        headers     <header...>
//	        credentials
//	        max_age     <duration>
//	    }
//	}
//
// The parser reads tokens only: every setting is checked here as far as it can be without a file,
// an environment variable or key material, and reported with its Caddyfile line. Key files and
// the secret's placeholders are loaded by Provision, on the server that has them, so `caddy
// adapt` runs anywhere; Provision's errors start with the directive's file:line (Source).
func (j *JWTAuth) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return j.unmarshalBlock(d, "jwt_auth")
}

// unmarshalBlock is UnmarshalCaddyfile for the options of block (jwt_auth, or jwt_forward_auth
// whose jwt_auth options are read here), whose table answers unknown options.
func (j *JWTAuth) unmarshalBlock(d *caddyfile.Dispenser, block string) error {
	d.Next() // consume directive name
	j.Source = sourceOf(d)
	opts := newOptionBlock(d, block)
	once := opts.once
	if d.NextArg() {
		return d.Errf("%s takes at most a matcher before its block, e.g. %s /api/* { secret {env.JWT_SECRET} }; %s", block, block, gotValues(1+d.CountRemainingArgs()))
	}

	for opts.next() {
		name := d.Val()
		switch name {
		case "secret":
			s, err := opts.single(name, checkSecret)
			if err != nil {
				return err
			}
			j.Secret = s

		case "public_key":
			var p string
			if !d.AllArgs(&p) {
				return opts.argErr()
			}
			if err := checkFileName(name, p); err != nil {
				return d.Errf("%v", err)
			}
			j.PublicKeys = append(j.PublicKeys, p)

		case "jwks_file":
			var p string
			if !d.AllArgs(&p) {
				return opts.argErr()
			}
			if err := checkFileName(name, p); err != nil {
				return d.Errf("%v", err)
			}
			j.JWKSFiles = append(j.JWKSFiles, p)

		case "jwks_url":
			args := d.RemainingArgs()
			if len(args) != 1 && (len(args) != 3 || args[1] != "refresh") {
				return d.Errf("jwks_url takes a URL and optionally refresh <duration>, e.g. jwks_url https://issuer.example/jwks.json refresh 15m")
			}
			u := JWKSURL{URL: args[0]}
			if len(args) == 3 {
				dur, err := caddy.ParseDuration(args[2])
				if err != nil {
					return d.Errf("jwks_url refresh %q is not a duration (e.g. 15m, 1h): %v", args[2], err)
				}
				if dur <= 0 {
					return d.Errf("jwks_url refresh must be positive, e.g. 15m or 1h")
				}
				u.Refresh = caddy.Duration(dur)
			}
			if err := checkJWKSURL(u.URL, time.Duration(u.Refresh)); err != nil {
				return d.Errf("%v", err)
			}
			j.JWKSURLs = append(j.JWKSURLs, u)

		case "algorithms":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return opts.argErr()
			}
			if err := keys.CheckAlgorithms(args); err != nil {
				return d.Errf("algorithms: %v", err)
			}
			j.Algorithms = append(j.Algorithms, args...)

		case "issuer":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return opts.argErr()
			}
			if err := checkNonEmpty(name, args); err != nil {
				return d.Errf("%v", err)
			}
			j.Issuers = append(j.Issuers, args...)

		case "audience":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return opts.argErr()
			}
			if err := checkNonEmpty(name, args); err != nil {
				return d.Errf("%v", err)
			}
			j.Audiences = append(j.Audiences, args...)

		case "leeway":
			v, err := opts.single(name, nil)
			if err != nil {
				return err
			}
			dur, err := caddy.ParseDuration(v)
			if err != nil {
				return d.Errf("leeway %q is not a duration (e.g. 30s): %v", v, err)
			}
			if err := checkLeeway(dur); err != nil {
				return d.Errf("%v", err)
			}
			// A pointer, so that an explicit leeway 0 stays 0 rather than becoming the default.
			leeway := caddy.Duration(dur)
			j.Leeway = &leeway

		case "typ":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.Errf("typ takes the accepted JOSE header typ values, e.g. typ at+jwt")
			}
			if err := verify.CheckTypes(args); err != nil {
				return d.Errf("%v", err)
			}
			j.Typ = append(j.Typ, args...)

		case "token_type":
			v, err := opts.single(name, nil)
			if err != nil {
				return err
			}
			if v == "" {
				return d.Err("token_type needs a value: off, or the value the token_type claim must have")
			}
			if err := checkTokenType(v); err != nil {
				return d.Errf("%v", err)
			}
			j.TokenType = v

		case "from_header", "from_cookie", "from_query":
			args := d.RemainingArgs()
			if len(args) == 0 || (name != "from_header" && len(args) != 1) {
				return opts.argErr()
			}
			src := TokenSource{From: sourceKinds[name], Name: args[0], Schemes: args[1:]}
			if len(src.Schemes) == 0 {
				src.Schemes = nil
			}
			if err := checkSource(src); err != nil {
				return d.Errf("%v", err)
			}
			if j.Session != "" {
				if err := checkSessionSources(j.Session, []TokenSource{src}); err != nil {
					return d.Errf("%v", err)
				}
			}
			for _, fc := range j.ForwardClaims {
				if err := checkForward(fc, []TokenSource{src}); err != nil {
					return d.Errf("%v", err)
				}
			}
			j.Sources = append(j.Sources, src)

		case "user_claim":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return opts.argErr()
			}
			if err := checkNonEmpty(name, args); err != nil {
				return d.Errf("%v", err)
			}
			j.UserClaims = append(j.UserClaims, args...)

		case "forward_claim":
			var fc ForwardClaim
			if !d.AllArgs(&fc.Claim, &fc.Header) {
				return d.Errf("forward_claim takes a claim and a header name, e.g. forward_claim sub X-User-Id")
			}
			if err := checkForward(fc, j.Sources); err != nil {
				return d.Errf("%v", err)
			}
			j.ForwardClaims = append(j.ForwardClaims, fc)

		case "require":
			args := d.RemainingArgs()
			if len(args) < 2 {
				return d.Errf("require takes a claim and at least one accepted value, e.g. require scope read")
			}
			rq := Requirement{Claim: args[0], Values: args[1:]}
			if err := checkRequirement(rq); err != nil {
				return d.Errf("%v", err)
			}
			j.Require = append(j.Require, rq)

		case "optional":
			if err := once(name); err != nil {
				return err
			}
			if d.NextArg() {
				return opts.argErr()
			}
			j.Optional = true

		case "max_token_size":
			v, err := opts.single(name, nil)
			if err != nil {
				return err
			}
			n, err := strconv.Atoi(v)
			if err != nil {
				return d.Errf("max_token_size %q is not a whole number of bytes", v)
			}
			if err := checkMaxTokenSize(n); err != nil {
				return d.Errf("%v", err)
			}
			j.MaxTokenSize = n

		case "session":
			v, err := opts.single(name, checkSessionBase)
			if err != nil {
				return err
			}
			j.Session = v
			if err := checkSessionSources(j.Session, j.Sources); err != nil {
				return d.Errf("%v", err)
			}

		case "cache_size":
			v, err := opts.single(name, nil)
			if err != nil {
				return err
			}
			if v == "off" {
				j.CacheSize = -1
				break
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return d.Errf("cache_size %q is not a positive number of tokens or off", v)
			}
			if err := checkCacheSize(n); err != nil {
				return d.Errf("%v", err)
			}
			j.CacheSize = n

		case "issuer_name":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.Errf("issuer_name takes the names of jwt_issuer handlers, e.g. issuer_name shop")
			}
			for _, n := range args {
				if err := checkIssuerName(n); err != nil {
					return d.Errf("issuer_name: %v", err)
				}
			}
			j.IssuerNames = append(j.IssuerNames, args...)

		case "cors":
			if err := once(name); err != nil {
				return err
			}
			c, err := parseCORS(d)
			if err != nil {
				return err
			}
			j.CORS = c

		case "realm":
			v, err := opts.single(name, checkRealm)
			if err != nil {
				return err
			}
			j.Realm = v

		default:
			return opts.unknown()
		}
	}

	return nil
}

// sourceOf is where the dispenser's current token was written, e.g. "Caddyfile:12": the
// directive's place, which Provision puts in front of its errors (see withSource).
func sourceOf(d *caddyfile.Dispenser) string {
	return fmt.Sprintf("%s:%d", d.File(), d.Line())
}

// Interface guard
var _ caddyfile.Unmarshaler = (*JWTAuth)(nil)
