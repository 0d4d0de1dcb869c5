package token

import "encoding/base64"

// b64 decodes JWS segments: URL-safe alphabet, no padding, non-canonical trailing bits refused.
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

// canonical reports whether seg is canonical unpadded base64url (RFC 7515 §2). The alphabet is
// checked here because encoding/base64 skips '\r' and '\n' even in strict mode; a length of 1
// mod 4 cannot encode whole bytes, and the bits below the last encoded byte must be zero so that
// each byte string has exactly one encoding.
func canonical(seg string) bool {
	if len(seg)%4 == 1 {
		return false
	}
	for i := 0; i < len(seg); i++ {
		if b64Value[seg[i]] == 0xff {
			return false
		}
	}
	switch len(seg) % 4 {
	case 2: // 12 bits carry one byte
		return b64Value[seg[len(seg)-1]]&0x0f == 0
	case 3: // 18 bits carry two bytes
		return b64Value[seg[len(seg)-1]]&0x03 == 0
	}
	return true
}

// decodeCanonical checks seg as canonical does and decodes it into dst, in one pass over the
// table canonical uses (encoding/base64 would take a second pass over its own). dst must have
// room for b64.DecodedLen(len(seg)) bytes. ok is false when seg is not canonical.
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
