package caddyauth

import (
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/gatehouse-dev/gatehouse/internal/token"
	"github.com/gatehouse-dev/gatehouse/internal/verify"
)

// userPrefix starts every placeholder of the authenticated user, as with Caddy's own
// authentication handler.
const userPrefix = "http.auth.user."

// setUserPlaceholders makes {http.auth.user.<name>} answer every flattened claim (nested claims
// by dotted path, arrays of scalars joined with ",") and {http.auth.user.id} the first of
// userClaims the token has, as Caddy's own authentication handler does for its users.
//
// The values are looked up when a placeholder asks for them rather than copied into the replacer
// on every request: most requests read only the user id (the access log's user_id), and copying a
// dozen claims would cost two allocations each. The claims are the verifier's, shared with
// other requests through its cache, and only read here.
func setUserPlaceholders(repl *caddy.Replacer, c *token.Claims, userClaims []string) {
	repl.Map(func(key string) (any, bool) {
		name, ok := strings.CutPrefix(key, userPrefix)
		if !ok {
			return nil, false
		}
		// "id" is always the user id, so a claim named "id" can never pose as it.
		if name == "id" {
			return userID(c, userClaims), true
		}
		if name == "" {
			return nil, false
		}
		v, ok := c.Get(name)
		if !ok || v.Kind == token.Object {
			return nil, false
		}
		// A placeholder may end up in a request header (header_up), where a CR, LF or NUL would
		// make the proxy fail with 502, or in a log line: such a value is not handed out. (The
		// user id and forwarded claims are checked by the verifier, which refuses the token.)
		if !verify.HeaderSafe(v.Text) {
			return nil, false
		}
		return v.Text, true
	})
}

// userID is the text of the first of names the claims hold; a null claim does not count.
func userID(c *token.Claims, names []string) string {
	for _, name := range names {
		if v, ok := c.Get(name); ok && v.Kind != token.Null && v.Kind != token.Object {
			return v.Text
		}
	}
	return ""
}
