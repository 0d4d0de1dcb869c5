package factor

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strings"
)

// recoveryCount is how many recovery codes an enrolment makes.
const recoveryCount = 10

// recoveryAlphabet is lower-case letters and digits without those people confuse (0/o, 1/l/i):
// 31 symbols, almost 5 bits each.
const recoveryAlphabet = "abcdefghjkmnpqrstuvwxyz23456789"

// recoveryLen is the symbols of a code: 16 (about 79 bits), written as four groups of four.
// That much entropy is why a plain SHA-256 is enough to store them: no guess list reaches it.
const recoveryLen = 16

// newRecoveryCodes returns recoveryCount fresh codes (to show once) and their hashes (to store).
func newRecoveryCodes() (codes, hashes []string) {
	for range recoveryCount {
		b := make([]byte, recoveryLen)
		_, _ = rand.Read(b)
		var sb strings.Builder
		for i, c := range b {
			if i > 0 && i%4 == 0 {
				sb.WriteByte('-')
			}
			// 31 symbols: the modulo bias (256 mod 31 = 8) costs a fraction of a bit per
			// symbol, far less than the margin of 80 bits.
			sb.WriteByte(recoveryAlphabet[int(c)%len(recoveryAlphabet)])
		}
		code := sb.String()
		codes = append(codes, code)
		hashes = append(hashes, hashRecovery(code))
	}
	return codes, hashes
}

// normalizeRecovery returns code as it was made (lower case, groups of four joined by dashes)
// from what a person typed (any case, spaces or dashes anywhere), or "" when it cannot be one.
func normalizeRecovery(code string) string {
	var raw []byte
	for i := 0; i < len(code); i++ {
		c := code[i]
		switch {
		case c == '-' || c == ' ':
			continue
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		}
		if strings.IndexByte(recoveryAlphabet, c) < 0 {
			return ""
		}
		raw = append(raw, c)
	}
	if len(raw) != recoveryLen {
		return ""
	}
	var sb strings.Builder
	for i, c := range raw {
		if i > 0 && i%4 == 0 {
			sb.WriteByte('-')
		}
		sb.WriteByte(c)
	}
	return sb.String()
}

// looksLikeRecovery reports whether code has a recovery code's shape.
func looksLikeRecovery(code string) bool { return normalizeRecovery(code) != "" }

func hashRecovery(code string) string {
	sum := sha256.Sum256([]byte(code))
	return hex.EncodeToString(sum[:])
}

// useRecovery returns hashes without the one of code, and whether code was among them.
func useRecovery(hashes []string, code string) ([]string, bool) {
	n := normalizeRecovery(code)
	if n == "" {
		return hashes, false
	}
	h := hashRecovery(n)
	found := -1
	for i, s := range hashes {
		if subtle.ConstantTimeCompare([]byte(s), []byte(h)) == 1 {
			found = i
		}
	}
	if found < 0 {
		return hashes, false
	}
	out := append([]string{}, hashes[:found]...)
	return append(out, hashes[found+1:]...), true
}
