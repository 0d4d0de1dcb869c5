package caddyauth

import (
	"github.com/caddyserver/caddy/v2"

	"github.com/gatehouse-dev/gatehouse/token"
)

// setUserPlaceholders sets {http.auth.user.<name>} for every flattened claim (nested claims by
// dotted path, arrays of scalars joined with ",") and {http.auth.user.id} to the first of
// userClaims the token has, as Caddy's own authentication handler does for its users.
func setUserPlaceholders(repl *caddy.Replacer, c *token.Claims, userClaims []string) {
	for _, m := range c.Members {
		if m.Name == "" || m.Value.Kind == token.Object {
			continue
		}
		repl.Set("http.auth.user."+m.Name, m.Value.Text)
	}
	// Set last, and always, so that a claim named "id" can never pose as the user id.
	repl.Set("http.auth.user.id", userID(c, userClaims))
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
