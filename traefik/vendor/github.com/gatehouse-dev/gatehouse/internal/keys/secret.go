package keys

import (
	"bytes"
	"errors"
	"fmt"
)

// Minimum HMAC key sizes: a key at least as long as the hash output (RFC 7518 §3.2).
const (
	minHS256 = 32
	minHS384 = 48
	minHS512 = 64
)

// FromSecret makes an HMAC key. Secrets shorter than 32 bytes are refused; the key allows HS256,
// and HS384/HS512 only when it is at least 48/64 bytes long (RFC 7518 §3.2).
//
// A secret that is a PEM block is refused too: configuring a public key as an HMAC secret is how
// the classic algorithm-confusion forgery starts, since anyone holding the public key could then
// sign HS256 tokens.
func FromSecret(secret []byte, origin string) (*Key, error) {
	if bytes.Contains(secret, []byte("-----BEGIN ")) {
		return nil, originError(origin, errors.New("secret looks like a PEM key; use public_key for a PEM file, "+
			"a secret is a random string (generate one with: openssl rand -base64 48)"))
	}
	algs, err := hmacAlgsFor(len(secret))
	if err != nil {
		return nil, originError(origin, err)
	}
	k := &Key{Algs: algs, Public: append([]byte(nil), secret...), Origin: origin}
	k.mac.Store(newMacPools(secret))
	return k, nil
}

// hmacAlgsFor returns the HMAC algorithms a secret of n bytes is strong enough for.
func hmacAlgsFor(n int) ([]string, error) {
	switch {
	case n >= minHS512:
		return []string{"HS256", "HS384", "HS512"}, nil
	case n >= minHS384:
		return []string{"HS256", "HS384"}, nil
	case n >= minHS256:
		return []string{"HS256"}, nil
	}
	return nil, fmt.Errorf("secret is %d bytes; HMAC needs at least 32 (generate one with: openssl rand -base64 48)", n)
}
