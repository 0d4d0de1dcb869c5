// Package cors answers CORS preflight requests (Fetch standard, "CORS protocol") and marks the
// answers to cross-origin requests from allowed origins, for the handlers that authenticate
// requests: a preflight carries no credentials, so an authenticating handler must either answer
// it itself, from an explicit policy, or refuse it like any request without credentials. It
// imports no Caddy.
package cors

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/httpsyntax"
	"github.com/gatehouse-dev/gatehouse/internal/session"
)

// Defaults of a Policy.
var (
	// DefaultMethods are the methods a preflight may ask for when Config.Methods is empty.
	DefaultMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}
	// DefaultHeaders are the request headers a preflight may ask for when Config.Headers is
	// empty: the token's and a JSON body's.
	DefaultHeaders = []string{"Authorization", "Content-Type"}
)

// DefaultMaxAge is how long a browser may cache a preflight's answer when Config.MaxAge is 0.
const DefaultMaxAge = 10 * time.Minute

// Config is a CORS policy as configured.
type Config struct {
	// Origins allowed to send cross-origin requests: scheme://host[:port], a pattern whose
	// first label is a wildcard (https://*.example.com: one more label, as app.example.com; not
	// example.com itself nor a.b.example.com), or "*" for any origin (not with Credentials).
	// Patterns follow the rule of session origins (session.ParseOrigins), so that a site's CORS
	// and CSRF trust the same origins.
	Origins []string
	// Methods a preflight may ask for; empty means DefaultMethods.
	Methods []string
	// Headers a preflight may ask for (case-insensitive); empty means DefaultHeaders.
	Headers []string
	// Credentials lets the allowed origins send cookies (Access-Control-Allow-Credentials).
	Credentials bool
	// MaxAge is how long the answer to a preflight may be cached; 0 means DefaultMaxAge.
	MaxAge time.Duration
}

// Policy is a checked Config. Safe for concurrent use.
type Policy struct {
	any     bool
	origins session.Origins // the listed origins and patterns
	methods []string
	headers []string // lower-case
	allowM  string   // Access-Control-Allow-Methods
	allowH  string   // Access-Control-Allow-Headers
	maxAge  string
	creds   bool
}

// New checks cfg and returns its Policy.
func New(cfg Config) (*Policy, error) {
	if len(cfg.Origins) == 0 {
		return nil, fmt.Errorf("cors: name the allowed origins, e.g. origins https://app.example.com")
	}
	p := &Policy{creds: cfg.Credentials}
	var listed []string
	for _, o := range cfg.Origins {
		if o != "*" {
			listed = append(listed, o)
			continue
		}
		if cfg.Credentials {
			return nil, fmt.Errorf("cors: origins * cannot be combined with credentials: any site could then act with its visitors' cookies; list the origins")
		}
		p.any = true
	}
	origins, err := session.ParseOrigins(listed)
	if err != nil {
		return nil, fmt.Errorf("cors: %w", err)
	}
	p.origins = origins
	p.methods = cfg.Methods
	if len(p.methods) == 0 {
		p.methods = DefaultMethods
	}
	for _, m := range p.methods {
		if !httpsyntax.IsToken(m) {
			return nil, fmt.Errorf("cors: method %q is not a method name, e.g. GET", m)
		}
	}
	headers := cfg.Headers
	if len(headers) == 0 {
		headers = DefaultHeaders
	}
	for _, h := range headers {
		if !httpsyntax.IsToken(h) {
			return nil, fmt.Errorf("cors: header %q is not a header name, e.g. Authorization", h)
		}
		p.headers = append(p.headers, strings.ToLower(h))
	}
	if cfg.MaxAge < 0 {
		return nil, fmt.Errorf("cors: max_age must not be negative")
	}
	maxAge := cfg.MaxAge
	if maxAge == 0 {
		maxAge = DefaultMaxAge
	}
	p.allowM = strings.Join(p.methods, ", ")
	p.allowH = strings.Join(headers, ", ")
	p.maxAge = strconv.Itoa(int(maxAge / time.Second))
	return p, nil
}

// IsPreflight reports whether r is a CORS preflight request: OPTIONS with Origin and
// Access-Control-Request-Method. Browsers send it without credentials.
func IsPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" &&
		r.Header.Get("Access-Control-Request-Method") != ""
}

// Allows reports whether origin (an Origin header's value) is allowed.
func (p *Policy) Allows(o string) bool {
	if p.any {
		return o != "" && o != "null"
	}
	n, err := session.NormalizeOrigin(o)
	if err != nil {
		return false
	}
	return p.origins.Match(n)
}

// Preflight answers the preflight r: 204 with the policy's headers when its origin, method and
// headers are allowed, else 403 without CORS headers (so the browser refuses the request it
// asked about). It never reads the body.
func (p *Policy) Preflight(w http.ResponseWriter, r *http.Request) (allowed bool) {
	h := w.Header()
	h.Add("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
	o := r.Header.Get("Origin")
	if !p.Allows(o) || !slices.Contains(p.methods, r.Header.Get("Access-Control-Request-Method")) ||
		!p.headersAllowed(r.Header.Values("Access-Control-Request-Headers")) {
		h.Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write(bodyRefused)
		return false
	}
	p.allowOrigin(h, o)
	h.Set("Access-Control-Allow-Methods", p.allowM)
	h.Set("Access-Control-Allow-Headers", p.allowH)
	h.Set("Access-Control-Max-Age", p.maxAge)
	w.WriteHeader(http.StatusNoContent)
	return true
}

// bodyRefused is the body of a refused preflight.
var bodyRefused = []byte(`{"detail":"Cross-origin request refused: this origin, method or header is not allowed.","code":"cors_refused"}`)

// Actual marks the answer to a (non-preflight) request from an allowed origin, so the browser
// lets the page read it, refusals included: a page must see a 401 to log in again.
func (p *Policy) Actual(h http.Header, r *http.Request) {
	o := r.Header.Get("Origin")
	if o == "" {
		return
	}
	h.Add("Vary", "Origin")
	if p.Allows(o) {
		p.allowOrigin(h, o)
	}
}

func (p *Policy) allowOrigin(h http.Header, o string) {
	if p.any && !p.creds {
		h.Set("Access-Control-Allow-Origin", "*")
		return
	}
	h.Set("Access-Control-Allow-Origin", o)
	if p.creds {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
}

// headersAllowed reports whether every header named in Access-Control-Request-Headers is
// allowed.
func (p *Policy) headersAllowed(values []string) bool {
	for _, v := range values {
		for name := range strings.SplitSeq(v, ",") {
			name = strings.ToLower(strings.TrimSpace(name))
			if name != "" && !slices.Contains(p.headers, name) {
				return false
			}
		}
	}
	return true
}
