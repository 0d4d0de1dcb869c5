package caddyauth

import (
	"net/http"
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/gatehouse-dev/gatehouse/internal/verify"
)

// challenges are the WWW-Authenticate values and bodies of verify (shared with the Traefik
// plugin), built once at provision; respond adds Caddy's error routes.
type challenges struct{ verify.Challenges }

// newChallenges builds the challenges for realm, which Validate has checked needs no escaping.
func newChallenges(realm string) challenges { return challenges{verify.NewChallenges(realm)} }

// respond answers a refused request. When a handle_errors route would handle this refusal, it
// sets only the challenge and returns the error with its status, so that route can restyle the
// answer (an HTML page, a redirect to a login page); otherwise it writes the JSON body itself.
func (c challenges) respond(w http.ResponseWriter, r *http.Request, e *verify.Error) error {
	status, challenge, body := c.Answer(e)
	h := w.Header()
	h.Set("WWW-Authenticate", challenge)
	if hasErrorRoutes(r, status) {
		return caddyhttp.Error(status, e)
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	// A failed write means the client is gone; there is nobody left to tell.
	_, _ = w.Write(body)
	return nil
}

// hasErrorRoutes reports whether a handle_errors route of the request's server would handle an
// error of this status for r, so that returning the error gets an answer from it rather than
// the empty body Caddy writes when no error route matches. Any error route at all is not
// enough: the Caddyfile puts every site's handle_errors in one list per server, behind a host
// matcher, with handle_errors 404 a matcher on {http.error.status_code} inside, so a
// handle_errors 404 of another site must leave this one's 401 body alone.
//
// The routes' matchers are evaluated as Caddy will evaluate them: against the original
// request (Caddy restores its method and URI before running error routes) with the
// {http.error.*} placeholders of the error set; they are put back as they were afterwards.
func hasErrorRoutes(r *http.Request, status int) bool {
	srv, _ := r.Context().Value(caddyhttp.ServerCtxKey).(*caddyhttp.Server)
	if srv == nil || srv.Errors == nil || len(srv.Errors.Routes) == 0 {
		return false
	}
	repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if !ok {
		// Not inside Caddy's request handling: nothing sets up the error routes' view.
		return true
	}
	saved := make([]savedPlaceholder, len(errorPlaceholders))
	for i, k := range errorPlaceholders {
		saved[i].value, saved[i].ok = repl.Get(k)
	}
	defer func() {
		for i, k := range errorPlaceholders {
			if saved[i].ok {
				repl.Set(k, saved[i].value)
			} else {
				repl.Delete(k)
			}
		}
	}()
	er := srv.Errors.WithError(asOriginal(r), caddyhttp.Error(status, nil))
	return routesHandle(srv.Errors.Routes, er)
}

// errorPlaceholders are the placeholders HTTPErrorConfig.WithError sets.
var errorPlaceholders = []string{
	"http.error", "http.error.status_code", "http.error.status_text",
	"http.error.id", "http.error.trace", "http.error.message",
}

type savedPlaceholder struct {
	value any
	ok    bool
}

// asOriginal returns a shallow copy of r with the method and URI of the original request, as
// Caddy's server restores them before it runs the error routes.
func asOriginal(r *http.Request) *http.Request {
	orig, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request)
	if !ok || orig.URL == nil {
		return r
	}
	cp := r.WithContext(r.Context())
	u := *orig.URL
	cp.Method, cp.RemoteAddr, cp.RequestURI, cp.URL = orig.Method, orig.RemoteAddr, orig.RequestURI, &u
	return cp
}

// routesHandle reports whether one of routes matches r. Subroutes, which is what the Caddyfile
// makes of handle_errors blocks, are looked into: a route whose handlers are all subroutes
// handles r only if a route of one of them does. A matcher that fails with an error matches
// nothing.
func routesHandle(routes caddyhttp.RouteList, r *http.Request) bool {
	for i := range routes {
		rt := &routes[i]
		if len(rt.MatcherSets) > 0 && !anyMatch(rt.MatcherSets, r) {
			continue
		}
		if len(rt.Handlers) == 0 {
			// Caddy answers with the status and an empty body: what the route says to do.
			return true
		}
		for _, h := range rt.Handlers {
			sub, ok := h.(*caddyhttp.Subroute)
			if !ok || routesHandle(sub.Routes, r) {
				return true
			}
		}
	}
	return false
}

// anyMatch is MatcherSets.AnyMatch without its side effect of recording a matcher's error in
// the request's variables, which the real error routes would then see.
func anyMatch(sets caddyhttp.MatcherSets, r *http.Request) bool {
	for _, set := range sets {
		if ok, err := set.MatchWithError(r); err == nil && ok {
			return true
		}
	}
	return false
}
