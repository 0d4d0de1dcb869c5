package users

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Bounds on argon2id parameters. The minimums are what the algorithm needs (Caddy's comparer
// panics on t=0, p=0 or an empty key) and what a real hash has; the memory maximum catches a
// typo that would make each login allocate more than a server has.
const (
	argon2MinSalt   = 8
	argon2MinKey    = 16
	argon2MaxKey    = 1024
	argon2MaxMemory = 4 << 20 // KiB: 4 GiB
)

// bcryptAlphabet is bcrypt's own base64 alphabet.
const bcryptAlphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// normalizeHash returns hash as the comparers take it. Like Caddy's basic_auth, it accepts a
// hash base64-encoded once more, as `caddy hash-password` printed it before Caddy 2.8.
func normalizeHash(hash string) string {
	if hash == "" || hash[0] == '$' {
		return hash
	}
	if dec, err := base64.StdEncoding.Strict().DecodeString(hash); err == nil && len(dec) > 0 && dec[0] == '$' {
		return string(dec)
	}
	return hash
}

// findAlgorithm returns the index of the first algorithm one of whose prefixes starts hash, or
// -1.
func findAlgorithm(algs []Algorithm, hash string) int {
	for i, a := range algs {
		for _, p := range a.Prefixes {
			if p != "" && strings.HasPrefix(hash, p) {
				return i
			}
		}
	}
	return -1
}

// unknownFormat is the message for a hash that no accepted algorithm recognises: it lists what
// is accepted (never the hash, which may be a password typed by mistake).
func unknownFormat(algs []Algorithm) string {
	var b strings.Builder
	b.WriteString("unknown password hash format; use ")
	for i, a := range algs {
		if i > 0 {
			b.WriteString(" or ")
		}
		fmt.Fprintf(&b, "%s (%s)", a.Name, strings.Join(a.Prefixes, ", "))
	}
	b.WriteString(", e.g. from `caddy hash-password`")
	return b.String()
}

// checkHash checks the syntax of the hash formats this package knows (bcrypt and argon2id), so
// that a damaged hash is reported with its line when the file is read rather than failing at
// every login, and so that no hash reaches a comparer that would panic on it. Hashes of other
// formats are left to their comparer. Errors never quote the hash.
func checkHash(hash string) error {
	switch {
	case isBcrypt(hash):
		return checkBcrypt(hash)
	case strings.HasPrefix(hash, "$argon2id$"):
		_, err := argon2Params(hash)
		return err
	}
	return nil
}

// isBcrypt reports whether hash claims to be bcrypt: $2, a letter, $.
func isBcrypt(hash string) bool {
	return len(hash) >= 4 && hash[:2] == "$2" && hash[2] >= 'a' && hash[2] <= 'z' && hash[3] == '$'
}

// checkBcrypt checks a bcrypt hash: $2x$NN$ with a cost of 04 to 31, then 53 characters of
// bcrypt's alphabet (22 of salt, 31 of hash), 60 in all.
func checkBcrypt(hash string) error {
	if len(hash) != 60 || hash[6] != '$' {
		return errors.New("bcrypt hash is not 60 characters of the form $2b$NN$...; copy it whole from `caddy hash-password` or `htpasswd -nB`")
	}
	cost, err := strconv.Atoi(hash[4:6])
	if err != nil || cost < 4 || cost > 31 {
		return errors.New("bcrypt cost must be two digits from 04 to 31")
	}
	for i := 7; i < len(hash); i++ {
		if strings.IndexByte(bcryptAlphabet, hash[i]) < 0 {
			return errors.New("bcrypt hash has characters outside bcrypt's alphabet; copy it whole")
		}
	}
	return nil
}

// argon2Params checks an argon2id hash in Caddy's (and the reference implementation's) PHC
// form, $argon2id$v=19$m=M,t=T,p=P$salt$key with unpadded base64, and returns its cost
// parameters with the key length ("m=47104,t=1,p=1,k=32"): what makes two hashes cost the same.
func argon2Params(hash string) (string, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 {
		return "", errors.New("argon2id hash is not of the form $argon2id$v=19$m=...,t=...,p=...$salt$key; copy it whole from `caddy hash-password --algorithm argon2id`")
	}
	if parts[2] != "v=19" {
		return "", errors.New("argon2id hash must be version 19 (v=19)")
	}
	var vals [3]uint64
	params := strings.Split(parts[3], ",")
	ok := len(params) == 3
	for i, name := range [...]string{"m=", "t=", "p="} {
		if !ok {
			break
		}
		num, found := strings.CutPrefix(params[i], name)
		var err error
		vals[i], err = strconv.ParseUint(num, 10, 32)
		ok = found && err == nil
	}
	m, t, p := vals[0], vals[1], vals[2]
	switch {
	case !ok:
		return "", errors.New("argon2id parameters must be m=<KiB>,t=<iterations>,p=<threads>")
	case t < 1:
		return "", errors.New("argon2id iterations (t) must be at least 1")
	case p < 1 || p > 255:
		return "", errors.New("argon2id threads (p) must be from 1 to 255")
	case m < 8*p:
		return "", errors.New("argon2id memory (m) must be at least 8 KiB per thread")
	case m > argon2MaxMemory:
		return "", errors.New("argon2id memory (m) over 4 GiB: check the hash's m= value")
	}
	salt, ok := unpaddedBase64(parts[4])
	if !ok || len(salt) < argon2MinSalt {
		return "", fmt.Errorf("argon2id salt must be at least %d bytes of unpadded base64", argon2MinSalt)
	}
	key, ok := unpaddedBase64(parts[5])
	if !ok || len(key) < argon2MinKey || len(key) > argon2MaxKey {
		return "", fmt.Errorf("argon2id key must be %d to %d bytes of unpadded base64", argon2MinKey, argon2MaxKey)
	}
	return fmt.Sprintf("m=%d,t=%d,p=%d,k=%d", m, t, p, len(key)), nil
}

// costClass names what a hash comparison costs: hashes of one algorithm and one class take the
// same time to compare. Unknown users are compared against a hash of the commonest class.
func costClass(alg int, hash string) string {
	class := ""
	switch {
	case isBcrypt(hash) && len(hash) >= 6:
		class = "cost=" + hash[4:6]
	case strings.HasPrefix(hash, "$argon2id$"):
		class, _ = argon2Params(hash)
	}
	return strconv.Itoa(alg) + ":" + class
}

// unpaddedBase64 decodes s when it is unpadded standard base64 and nothing else. The standard
// decoder skips '\r' and '\n' even in strict mode, so without the check a line ending in "\r "
// would keep its CR in the hash, and the file would not read back the same.
func unpaddedBase64(s string) ([]byte, bool) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, false
	}
	b, err := base64.RawStdEncoding.Strict().DecodeString(s)
	return b, err == nil
}
