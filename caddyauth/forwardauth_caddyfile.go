package caddyauth

import (
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("jwt_forward_auth", parseForwardAuth)
	// With the other authentication handlers (after basic_auth and jwt_auth), before anything
	// that would answer or proxy the request instead; it answers every request it matches.
	httpcaddyfile.RegisterDirectiveOrder("jwt_forward_auth", httpcaddyfile.Before, "forward_auth")
}

func parseForwardAuth(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	f := new(ForwardAuth)
	if err := f.UnmarshalCaddyfile(h.Dispenser); err != nil {
		return nil, err
	}
	return f, nil
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	jwt_forward_auth [<matcher>] {
//	    <every jwt_auth option but cors and from_query>
//	    forwarded_headers x-forwarded|x-original
//	    user_header       <Header-Name>
//	    route <host>[/<path>] {
//	        require <claim> <value...>
//	    }
//	}
//
// The jwt_auth options are parsed by jwt_auth's own parser, so they mean exactly the same.
func (f *ForwardAuth) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume directive name
	head := d.Token()
	opts := newOptionBlock(d, "jwt_forward_auth")
	if d.NextArg() {
		return d.Errf("jwt_forward_auth takes at most a matcher before its block, e.g. jwt_forward_auth /auth* { secret {env.JWT_SECRET} }; %s", gotValues(1+d.CountRemainingArgs()))
	}
	// The options of jwt_auth, as tokens for its parser; this handler's own are taken out.
	var rest []caddyfile.Token
	for opts.next() {
		switch name := d.Val(); name {
		case "forwarded_headers", "user_header":
			check := checkForwardedHeaders
			if name == "user_header" {
				check = nil
			}
			v, err := opts.single(name, check)
			if err != nil {
				return err
			}
			if name == "forwarded_headers" {
				f.ForwardedHeaders = v
			} else {
				f.UserHeader = v
			}
		case "route":
			rt, err := parseForwardRoute(d)
			if err != nil {
				return err
			}
			f.Routes = append(f.Routes, rt)
		case "cors", "from_query":
			return d.Errf("jwt_forward_auth takes no %s: the proxy, not the auth server, passes the request on", name)
		default:
			rest = append(rest, d.NextSegment()...)
		}
	}
	toks := []caddyfile.Token{head}
	if len(rest) > 0 {
		open, end := head, rest[len(rest)-1]
		open.Text, end.Text = "{", "}"
		end.Line++
		toks = append(append(append(toks, open), rest...), end)
	}
	if err := f.JWTAuth.unmarshalBlock(caddyfile.NewDispenser(toks), "jwt_forward_auth"); err != nil {
		return err
	}
	if err := f.checkUserHeader(); err != nil {
		return opts.at("user_header", err)
	}
	if err := f.validateForward(); err != nil {
		return opts.atHead(err)
	}
	return nil
}

// parseForwardRoute parses `route <host>[/<path>] [{ require <claim> <value...> }]`.
func parseForwardRoute(d *caddyfile.Dispenser) (ForwardRoute, error) {
	opts := newOptionBlock(d, "route")
	var target string
	if !d.NextArg() {
		return ForwardRoute{}, d.Errf("route takes a host and optionally a path, e.g. route git.home.example/admin")
	}
	target = d.Val()
	if n := d.CountRemainingArgs(); n > 0 {
		return ForwardRoute{}, d.Errf("route takes a host and optionally a path, e.g. route git.home.example/admin; %s", gotValues(n+1))
	}
	var rt ForwardRoute
	rt.Host = target
	if i := strings.IndexByte(target, '/'); i >= 0 {
		rt.Host, rt.Path = target[:i], target[i:]
	}
	for opts.next() {
		switch d.Val() {
		case "require":
			args := d.RemainingArgs()
			if len(args) < 2 {
				return rt, d.Errf("require takes a claim and at least one accepted value, e.g. require groups git")
			}
			rt.Require = append(rt.Require, Requirement{Claim: args[0], Values: args[1:]})
		default:
			return rt, opts.unknown()
		}
	}
	if err := checkForwardRoute(rt); err != nil {
		return rt, opts.atHead(err)
	}
	return rt, nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*ForwardAuth)(nil)
