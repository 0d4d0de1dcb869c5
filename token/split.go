package token

import "strings"

// Split parses a compact JWS: three segments, strict unpadded base64url (RFC 7515 §2, no
// whitespace, non-canonical trailing bits refused), a header that is a JSON object with a string
// alg and no duplicate members, and a non-empty signature. The payload is not decoded here, so an
// unauthenticated claim set is never parsed. Callers cap len(raw) before calling.
//
// Empty header or payload segments count as missing (ErrSegments). An empty signature is
// ErrEmptySig: unsecured JWTs (RFC 7519 §6) are never accepted. The header's top-level member
// names must also differ ignoring case, as in ParseClaims, and its "alg" must not be empty.
func Split(raw string) (JWS, error) {
	dot1 := strings.IndexByte(raw, '.')
	if dot1 < 0 {
		return JWS{}, ErrSegments
	}
	dot2 := strings.IndexByte(raw[dot1+1:], '.')
	if dot2 < 0 {
		return JWS{}, ErrSegments
	}
	dot2 += dot1 + 1
	header, payload, sig := raw[:dot1], raw[dot1+1:dot2], raw[dot2+1:]
	if strings.IndexByte(sig, '.') >= 0 || header == "" || payload == "" {
		return JWS{}, ErrSegments
	}
	if sig == "" {
		return JWS{}, ErrEmptySig
	}
	// The payload is checked (not decoded) now, so that a token Split accepts is entirely
	// canonical and Claims can only fail on content.
	if !canonical(header) || !canonical(payload) || !canonical(sig) {
		return JWS{}, ErrBase64
	}

	// Typical headers fit the stack buffer; the one copy to a string backs Alg, Kid and Typ.
	var buf [256]byte
	dst := buf[:]
	if n := b64.DecodedLen(len(header)); n > len(buf) {
		dst = make([]byte, n)
	}
	hb, err := decodeSegment(dst, header)
	if err != nil {
		return JWS{}, err
	}
	h, err := parseHeader(string(hb))
	if err != nil {
		return JWS{}, err
	}

	signature, err := decodeSegment(make([]byte, b64.DecodedLen(len(sig))), sig)
	if err != nil {
		return JWS{}, err
	}
	return JWS{Header: h, SigningInput: raw[:dot2], Signature: signature, payload: payload}, nil
}

// parseHeader parses a decoded JOSE header.
func parseHeader(s string) (Header, error) {
	d := decoder{s: s, isHeader: true}
	switch err := d.text(); err {
	case nil:
	case ErrDuplicate, ErrHeaderAlg, ErrHeader:
		return Header{}, err
	default:
		return Header{}, ErrHeader
	}
	if !d.sawAlg || d.header.Alg == "" {
		return Header{}, ErrHeaderAlg
	}
	return d.header, nil
}

// Claims decodes the payload (strict base64url) and parses it as a claim set.
func (j *JWS) Claims() (*Claims, error) {
	// Only Split sets payload, and it has checked that the segment is canonical.
	data, err := decodeSegment(make([]byte, b64.DecodedLen(len(j.payload))), j.payload)
	if err != nil {
		return nil, err
	}
	return ParseClaims(data)
}
