package mint

import (
	"crypto/rand"
	"encoding/hex"
)

// newJTI returns a token id: 32 lowercase hex digits of crypto/rand, the form of simplejwt's
// uuid4().hex, with 128 random bits (uuid4 has 122), so ids never repeat in practice and
// revocation by jti cannot hit another token.
func newJTI() string {
	var b [16]byte
	rand.Read(b[:]) // never fails: crypto/rand aborts the program rather than return short
	return hex.EncodeToString(b[:])
}
