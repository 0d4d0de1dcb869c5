package caddyauth

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/gatehouse-dev/gatehouse/internal/cors"
)

// CORS is the cors setting of jwt_auth and jwt_issuer: how CORS preflight requests, which
// browsers send without credentials, are answered. Without it a preflight is a request like any
// other: jwt_auth refuses it for want of a token, and the issuer answers 405.
type CORS struct {
	// Origins allowed to send cross-origin requests: scheme://host[:port], a pattern with a
	// leading wildcard label (https://*.example.com, every subdomain), or "*" (any origin, not
	// with credentials). The handler answers their preflights itself (204) and marks its
	// answers, refusals included, with Access-Control-Allow-Origin.
	Origins []string `json:"origins,omitempty"`
	// Methods a preflight may ask for. Default GET, HEAD, POST, PUT, PATCH, DELETE.
	Methods []string `json:"methods,omitempty"`
	// Request headers a preflight may ask for. Default Authorization, Content-Type.
	Headers []string `json:"headers,omitempty"`
	// Lets the allowed origins send cookies (Access-Control-Allow-Credentials: true).
	Credentials bool `json:"credentials,omitempty"`
	// How long a browser may cache the answer to a preflight. Default 10m.
	MaxAge caddy.Duration `json:"max_age,omitempty"`
	// jwt_auth only, instead of origins: the upstream answers preflights itself. A preflight
	// is passed on without credentials and without a body (one with a body is refused with
	// 400); every other request still needs a token.
	Passthrough bool `json:"passthrough,omitempty"`
}

// policy checks c and returns its policy; nil with passthrough.
func (c *CORS) policy() (*cors.Policy, error) {
	if c.Passthrough {
		if len(c.Origins) > 0 || len(c.Methods) > 0 || len(c.Headers) > 0 || c.Credentials || c.MaxAge != 0 {
			return nil, errCORSPassthrough
		}
		return nil, nil
	}
	return cors.New(cors.Config{
		Origins:     c.Origins,
		Methods:     c.Methods,
		Headers:     c.Headers,
		Credentials: c.Credentials,
		MaxAge:      time.Duration(c.MaxAge),
	})
}

var errCORSPassthrough = errors.New("cors passthrough takes no other settings: the upstream answers preflights with its own policy")

// parseCORS parses `cors passthrough` or a cors block:
//
//	cors {
//	    origins     <origin|pattern|*...>
//	    methods     <method...>
//	    headers     <header...>
//	    credentials
//	    max_age     <duration>
//	}
func parseCORS(d *caddyfile.Dispenser) (*CORS, error) {
	c := new(CORS)
	opts := newOptionBlock(d, "cors")
	args := d.RemainingArgs()
	switch {
	case len(args) == 1 && args[0] == "passthrough":
		c.Passthrough = true
		if d.NextBlock(d.Nesting()) {
			return nil, d.Err("cors passthrough takes no block")
		}
		return c, nil
	case len(args) > 0:
		return nil, d.Errf("cors takes passthrough or a block with origins, e.g. cors { origins https://app.example.com }")
	}
	for opts.next() {
		switch name := d.Val(); name {
		case "origins", "methods", "headers":
			vals := d.RemainingArgs()
			if len(vals) == 0 {
				return nil, opts.argErr()
			}
			switch name {
			case "origins":
				c.Origins = append(c.Origins, vals...)
			case "methods":
				c.Methods = append(c.Methods, vals...)
			default:
				c.Headers = append(c.Headers, vals...)
			}
		case "credentials":
			if d.NextArg() {
				return nil, opts.argErr()
			}
			c.Credentials = true
		case "max_age":
			var v string
			if !d.AllArgs(&v) {
				return nil, opts.argErr()
			}
			dur, err := caddy.ParseDuration(v)
			if err != nil || dur < 0 {
				return nil, d.Errf("cors max_age %q is not a duration such as 10m", v)
			}
			c.MaxAge = caddy.Duration(dur)
		default:
			return nil, opts.unknown()
		}
	}
	if _, err := c.policy(); err != nil {
		return nil, opts.atHead(err)
	}
	return c, nil
}

// bodyPreflightBody answers a passed-through preflight that has a body.
var bodyPreflightBody = []byte(`{"detail":"A preflight request has no body.","code":"invalid_request"}`)

// servePreflight handles a CORS preflight for jwt_auth: answered from the policy, or passed on
// to an upstream that answers it (cors passthrough) without credentials or a body. It reports
// false when the handler has no cors setting, and the preflight is then authenticated like any
// other request.
func (j *JWTAuth) servePreflight(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) (bool, error) {
	switch {
	case j.cors != nil:
		j.cors.Preflight(w, r)
		j.metrics.count(resultPreflight)
		return true, nil
	case j.CORS != nil && j.CORS.Passthrough:
		if r.ContentLength != 0 || len(r.TransferEncoding) > 0 {
			h := w.Header()
			h.Set("Content-Type", "application/json")
			h.Set("Content-Length", strconv.Itoa(len(bodyPreflightBody)))
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write(bodyPreflightBody)
			return true, nil
		}
		// A browser's preflight carries no credentials; whoever sent some gets none through
		// unverified. Extract is called for what it does besides: it takes from_query
		// parameters out of the URL, so a token there never reaches the upstream either.
		_, _, _ = j.extractor.Extract(r)
		for _, h := range []string{"Authorization", "Proxy-Authorization", "Cookie"} {
			r.Header.Del(h)
		}
		r.Body = http.NoBody
		j.metrics.count(resultPreflight)
		return true, next.ServeHTTP(w, r)
	}
	return false, nil
}
