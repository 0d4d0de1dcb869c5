package keys

import (
	"errors"
	"fmt"
	"strings"
)

// algorithms lists every JWS algorithm Gatehouse can verify, in the order used in messages.
var algorithms = []string{
	"HS256", "HS384", "HS512",
	"RS256", "RS384", "RS512",
	"PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512",
	"EdDSA", "Ed25519",
}

var (
	rsaAlgs  = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
	hmacAlgs = []string{"HS256", "HS384", "HS512"}
)

// supported reports whether alg is one of algorithms, compared exactly: JWS algorithm names are
// case-sensitive (RFC 7515 §4.1.1), so "hs256" is not HS256.
func supported(alg string) bool {
	for _, a := range algorithms {
		if a == alg {
			return true
		}
	}
	return false
}

// "EdDSA" (RFC 8037) and "Ed25519" (RFC 9864's fully specified name) are two names of one
// algorithm for the keys Gatehouse verifies with: EdDSA is polymorphic, but the only EdDSA curve
// it verifies is Ed25519 (OKP keys on Ed448 are skipped), so an EdDSA signature it can check is
// an Ed25519 signature. Each name is therefore accepted wherever the other is: in a token's alg,
// in a JWK's alg and in the allow-list. Every other name is compared exactly.

// alias is the other name of alg, or "" when alg has none.
func alias(alg string) string {
	switch alg {
	case "EdDSA":
		return "Ed25519"
	case "Ed25519":
		return "EdDSA"
	}
	return ""
}

// Permitted reports whether alg is in list, or its other name is (see alias): the test of an
// allow-list. Names are compared exactly otherwise, so no case variant of a name passes.
func Permitted(list []string, alg string) bool {
	other := alias(alg)
	for _, a := range list {
		if a == alg || (other != "" && a == other) {
			return true
		}
	}
	return false
}

// CheckAlgorithms validates an algorithm allow-list: every name must be one Gatehouse supports,
// and "none" (in any case) is refused outright rather than being reported as merely unknown.
func CheckAlgorithms(algs []string) error {
	for _, a := range algs {
		if strings.EqualFold(a, "none") {
			return errors.New(`algorithm "none" is never accepted: unsigned tokens cannot be authenticated`)
		}
		if !supported(a) {
			return fmt.Errorf("unknown algorithm %q; supported (case-sensitive): %s", a, strings.Join(algorithms, ", "))
		}
	}
	return nil
}

// Restrict narrows each key's Algs to allowed (no-op when allowed is empty) and drops keys left
// with none. It returns an error naming the allow-list when no key is left at all.
//
// The keys passed in are not modified: a narrowed key is a new *Key sharing the same material,
// because the same parsed key may be in use elsewhere (a Remote's previous set, another site).
func Restrict(ks []*Key, allowed []string) ([]*Key, error) {
	if err := CheckAlgorithms(allowed); err != nil {
		return nil, err
	}
	if len(allowed) == 0 {
		return ks, nil
	}
	out := make([]*Key, 0, len(ks))
	for _, k := range ks {
		var algs []string
		for _, a := range k.Algs {
			if Permitted(allowed, a) {
				algs = append(algs, a)
			}
		}
		switch {
		case len(algs) == 0:
			continue
		case len(algs) == len(k.Algs):
			out = append(out, k)
		default:
			out = append(out, k.withAlgs(algs))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no key allows any of the configured algorithms (%s); the keys support: %s",
			strings.Join(allowed, ", "), strings.Join(keyAlgs(ks), ", "))
	}
	return out, nil
}

// keyAlgs is the union of the keys' algorithms in algorithms order, for error messages.
func keyAlgs(ks []*Key) []string {
	var out []string
	for _, a := range algorithms {
		for _, k := range ks {
			if k.Allows(a) {
				out = append(out, a)
				break
			}
		}
	}
	if len(out) == 0 {
		out = []string{"(no keys)"}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
