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

// decodeSegment decodes a segment already accepted by canonical into dst, which must have room
// for b64.DecodedLen(len(seg)) bytes, and returns the decoded bytes.
func decodeSegment(dst []byte, seg string) ([]byte, error) {
	n, err := b64.Decode(dst, []byte(seg))
	if err != nil {
		return nil, ErrBase64
	}
	return dst[:n], nil
}
