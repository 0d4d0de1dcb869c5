package token

import "encoding/base64"

// b64 is the JWS segment encoding (URL-safe alphabet, no padding); it gives decoded lengths.
var b64 = base64.RawURLEncoding.Strict()

// b64Value maps each byte to its base64url value, or to 0xff when it is not in the alphabet.
var b64Value = func() (t [256]byte) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range t {
		t[i] = 0xff
	}
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

// decodeCanonical decodes seg into dst when seg is canonical unpadded base64url (RFC 7515 §2),
// in one pass over b64Value; ok is false when it is not. Canonical: only alphabet bytes (which
// encoding/base64 does not ensure: it skips '\r' and '\n' even in strict mode), a length that is
// not 1 mod 4 (which cannot encode whole bytes), and zero bits below the last encoded byte, so
// that each byte string has exactly one encoding. dst must have room for
// b64.DecodedLen(len(seg)) bytes.
func decodeCanonical(dst []byte, seg string) (out []byte, ok bool) {
	if len(seg)%4 == 1 {
		return nil, false
	}
	dst = dst[:b64.DecodedLen(len(seg))]
	// Every value of the alphabet is below 64; 0xff marks any other byte, so one OR over all the
	// values has one of the top two bits set exactly when a byte is outside the alphabet.
	var seen byte
	out = dst
	for len(seg) >= 4 && len(dst) >= 3 {
		a, b, c, d := b64Value[seg[0]], b64Value[seg[1]], b64Value[seg[2]], b64Value[seg[3]]
		seen |= a | b | c | d
		dst[0] = a<<2 | b>>4
		dst[1] = b<<4 | c>>2
		dst[2] = c<<6 | d
		seg, dst = seg[4:], dst[3:]
	}
	switch {
	case len(seg) == 2 && len(dst) >= 1: // 12 bits carry one byte; the low 4 bits of the last value must be zero
		a, b := b64Value[seg[0]], b64Value[seg[1]]
		if b&0x0f != 0 {
			return nil, false
		}
		seen |= a | b
		dst[0] = a<<2 | b>>4
	case len(seg) == 3 && len(dst) >= 2: // 18 bits carry two bytes; the low 2 bits of the last value must be zero
		a, b, c := b64Value[seg[0]], b64Value[seg[1]], b64Value[seg[2]]
		if c&0x03 != 0 {
			return nil, false
		}
		seen |= a | b | c
		dst[0] = a<<2 | b>>4
		dst[1] = b<<4 | c>>2
	}
	if seen&0xc0 != 0 {
		return nil, false
	}
	return out, true
}
