package caddyauth

import (
	"net/http"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/gatehouse-dev/gatehouse/internal/verify"
)

// hideQueryTokens removes the from_query parameters from Caddy's copy of the original request
// URL. The extractor takes them out of the request itself (so reverse_proxy, {uri} and {query}
// never see them), but Caddy puts that copy back into the request before it runs the
// handle_errors routes, and {http.request.orig_uri.query} reads it: without this a refused
// request's token would be in a handle_errors redirect or proxied URL. Caddy's access and error
// logs are written from a clone taken before any handler runs, out of reach here; docs/jwt_auth.md
// shows the log filter that keeps the parameter out of them. {http.request.orig_uri} is the
// original request line, a string, and keeps the token.
func (j *JWTAuth) hideQueryTokens(r *http.Request) {
	var orig http.Request
	for i := range j.Sources {
		if j.Sources[i].From != verify.FromQuery {
			continue
		}
		if orig.URL == nil {
			var ok bool
			if orig, ok = r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request); !ok || orig.URL == nil {
				return
			}
		}
		if orig.URL.RawQuery != "" {
			// The copy's URL is one of its own, made for this request.
			orig.URL.RawQuery = verify.RemoveParam(orig.URL.RawQuery, j.Sources[i].Name)
		}
	}
}
