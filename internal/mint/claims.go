package mint

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
)

// claim is one claim: its JSON-encoded name and value.
type claim struct {
	name  string // as written in the token, unescaped
	value json.RawMessage
}

// payload writes a claim set in the fixed order: the token_type, exp, iat and jti first, then
// the rest as given.
type payload struct{ b []byte }

func newPayload(tokenType string, exp, iat int64, jti string) *payload {
	p := &payload{b: make([]byte, 0, 256)}
	p.b = append(p.b, `{"token_type":"`...)
	p.b = append(p.b, tokenType...)
	p.b = append(p.b, `","exp":`...)
	p.b = strconv.AppendInt(p.b, exp, 10)
	p.b = append(p.b, `,"iat":`...)
	p.b = strconv.AppendInt(p.b, iat, 10)
	p.b = append(p.b, `,"jti":"`...)
	p.b = append(p.b, jti...)
	p.b = append(p.b, '"')
	return p
}

// add appends a claim; name is escaped as JSON requires.
func (p *payload) add(name string, value []byte) {
	p.b = append(p.b, ',')
	p.b = appendName(p.b, name)
	p.b = append(p.b, ':')
	p.b = append(p.b, value...)
}

// bytes closes the object and returns it.
func (p *payload) bytes() []byte { return append(p.b, '}') }

// appendName appends name as a JSON string. Names that need no escaping (all but odd user
// claims) skip encoding/json.
func appendName(b []byte, name string) []byte {
	plain := true
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			plain = false
			break
		}
	}
	if plain {
		b = append(b, '"')
		b = append(b, name...)
		return append(b, '"')
	}
	enc, _ := json.Marshal(name) // a string always marshals
	return append(b, enc...)
}

// reserved reports whether name is one of the claims the minter sets itself (compared ignoring
// case, since verifiers refuse top-level names that differ only in case): such user claims are
// dropped, so registered and issuer claims always win.
func (m *Minter) reserved(name string) bool {
	for _, r := range reservedClaims {
		if strings.EqualFold(name, r) {
			return true
		}
	}
	return strings.EqualFold(name, m.userID)
}

// reservedClaims are the claims the minter controls. nbf is among them: a token is valid from
// its iat, whatever a user's claims say.
// amr and UsernameClaim are the issuer's too: a user's claim must not say how they logged in.
var reservedClaims = [...]string{"token_type", "exp", "iat", "jti", "nbf", "iss", "aud", FamilyClaim, AMRClaim, UsernameClaim}

// sortedClaims returns the claims of fields that are not reserved, sorted by name.
func (m *Minter) sortedClaims(fields map[string]json.RawMessage) []claim {
	return sortClaims(fields, m.reserved)
}

// sortClaims returns the claims of fields, but those drop reports, sorted by name: the order
// makes a claim set's encoding, and so its token, depend only on its content.
func sortClaims(fields map[string]json.RawMessage, drop func(name string) bool) []claim {
	out := make([]claim, 0, len(fields))
	for name, v := range fields {
		if !drop(name) {
			out = append(out, claim{name, v})
		}
	}
	slices.SortFunc(out, func(a, b claim) int { return strings.Compare(a.name, b.name) })
	return out
}
