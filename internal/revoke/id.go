package revoke

import (
	"errors"
	"fmt"
)

// ErrInvalidID: a token or family id is not one this store keeps. The token carrying it is to
// be refused; nothing was read or written.
var ErrInvalidID = errors.New("token id is not valid")

// MaxIDLength bounds token and family ids. Ids made by Gatehouse and simplejwt are 32 hex
// digits; a UUID is 36 characters.
const MaxIDLength = 128

// validID reports whether id is 1 to MaxIDLength characters of A-Z, a-z, 0-9, '_' and '-'.
// Ids become storage keys, so this is what keeps a hostile id (a signed token from a party
// sharing the key, say) from naming another path: no '/', '\', '.', NUL or anything a file
// system or storage backend could give a meaning to.
func validID(id string) bool {
	if id == "" || len(id) > MaxIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// CheckID returns an ErrInvalidID error naming what (never echoing the id) unless id is valid.
func CheckID(what, id string) error {
	if validID(id) {
		return nil
	}
	return fmt.Errorf("%w: the %s must be 1 to %d characters of A-Z, a-z, 0-9, '_' and '-'", ErrInvalidID, what, MaxIDLength)
}
