package token

import (
	"slices"
	"strings"
	"sync/atomic"
)

// Split parses a compact JWS: three segments, strict unpadded base64url (RFC 7515 §2, no
// whitespace, non-canonical trailing bits refused), a header that is a JSON object with a string
// alg and no duplicate members, and a non-empty signature. The payload is decoded but not parsed
// here, so an unauthenticated claim set is never parsed. Callers cap len(raw) before calling.
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
	header, payload, sigSeg := raw[:dot1], raw[dot1+1:dot2], raw[dot2+1:]
	if strings.IndexByte(sigSeg, '.') >= 0 || header == "" || payload == "" {
		return JWS{}, ErrSegments
	}
	if sigSeg == "" {
		return JWS{}, ErrEmptySig
	}

	// Every segment is checked before the header is parsed, so that a token Split accepts is
	// entirely canonical (and Claims can only fail on content) and a base64 error wins over a
	// header error.
	memo, _ := lastHeader.Load().(*headerMemo)
	// A known segment is canonical and parses to memo.header. (Comparing the converted bytes
	// does not copy them.)
	known := memo != nil && string(memo.seg[:memo.n]) == header
	var text string // the decoded header, when it is not the memo's
	if !known {
		var ok bool
		if text, ok = decodeHeader(header); !ok {
			return JWS{}, ErrBase64
		}
	}
	// One allocation holds the signature and the payload: decoding them costs one pass each,
	// the same as checking them.
	nSig := b64.DecodedLen(len(sigSeg))
	decoded := make([]byte, nSig+b64.DecodedLen(len(payload)))
	body, ok := decodeCanonical(decoded[nSig:], payload)
	if !ok {
		return JWS{}, ErrBase64
	}
	signature, ok := decodeCanonical(decoded[:nSig:nSig], sigSeg)
	if !ok {
		return JWS{}, ErrBase64
	}
	var h Header
	if known {
		h = memo.header
	} else {
		var err error
		if h, err = parseHeader(text); err != nil {
			return JWS{}, err
		}
		if len(header) <= maxMemoSegment {
			m := &headerMemo{header: h, n: len(header)}
			copy(m.seg[:], header)
			lastHeader.Store(m)
		}
	}
	return JWS{Header: h, SigningInput: raw[:dot2], Signature: signature, payload: body}, nil
}

// lastHeader is the last header segment Split parsed, with its Header. The tokens of one issuer
// and key share their header ({"alg":"HS256","typ":"JWT"} and the like), so that nearly every
// Split compares one string instead of decoding and parsing the header again (in Caddy, where a
// request's I/O has evicted the CPU caches, that is cheaper than the decoding, and cheaper than a
// map of common headers). It caches a pure function: a token with another header is parsed and
// replaces it, at the cost of one small allocation. It holds a *headerMemo: an atomic.Value,
// because Traefik's interpreter (Yaegi) has no generic atomic.Pointer.
var lastHeader atomic.Value

// maxMemoSegment is the longest header segment lastHeader keeps; real ones, kid included, are
// shorter. The segment is copied into the memo, so that no token stays in memory for it.
const maxMemoSegment = 128

// headerMemo is a header segment that Split accepted and its parse, in one allocation.
type headerMemo struct {
	header Header
	n      int
	seg    [maxMemoSegment]byte
}

// decodeHeader decodes a header segment (false when it is not canonical) into the string that
// parseHeader reads and Alg, Kid and Typ then share. It is kept out of Split, so that its buffer
// does not sit in Split's stack frame when the header is the memo's.
//
//go:noinline
func decodeHeader(seg string) (string, bool) {
	var buf [256]byte // typical headers fit
	dst := buf[:]
	if n := b64.DecodedLen(len(seg)); n > len(buf) {
		dst = make([]byte, n)
	}
	hb, ok := decodeCanonical(dst, seg)
	if !ok {
		return "", false
	}
	return string(hb), true
}

// parseHeader parses a decoded JOSE header.
func parseHeader(s string) (Header, error) {
	var d decoder
	d.s, d.isHeader = s, true
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

// Watch is Claims for a caller that reads a few top-level claims on every token and the rest
// seldom. It validates the payload exactly as Claims does and sets vals[i] to what
// Get(names[i]) returns (a zero Value when absent), but builds the members only when Get or
// Members first asks: allocating and filling them is most of what a decode costs in a server,
// where every cache line it writes is a miss. A flat claim set, as nearly every access token
// has, is validated by scanFlat's single loop; anything else by the general scanner.
// len(vals) must be len(names).
func (j *JWS) Watch(names []string, vals []Value) (*Claims, error) {
	if len(j.payload) == 0 { // a JWS that did not come from Split: no payload is no claim set
		return nil, ErrClaimsJSON
	}
	data := j.payload[:len(j.payload):len(j.payload)] // as in Claims
	s := bytesString(data)
	// A dotted name is a path into a nested object, which only the members give.
	located := len(names) <= maxWatch && !slices.ContainsFunc(names, isPath)
	if located && scanFlat(s, names, vals) {
		return &Claims{Raw: data, lazy: true}, nil
	}
	var d decoder // set field by field, as in parseClaims
	d.s = s
	if located {
		d.watch = names
	}
	if err := d.text(); err != nil {
		return nil, claimsError(err)
	}
	if !located || d.dotted || d.complex {
		// Flattened names may collide, which only the full decode checks; or a watched claim is
		// an object or an array, or a dotted path into one, whose Get value only the members
		// give: decode it all now.
		c, err := parseClaims(data, d.s)
		if err != nil {
			return nil, err
		}
		for i, name := range names {
			vals[i], _ = c.Get(name)
		}
		return c, nil
	}
	copy(vals, d.watched[:len(names)])
	return &Claims{Raw: data, lazy: true}, nil
}

// isPath reports whether name has a '.': a dotted path to a nested member (for Get), or a member
// name whose flattened form may collide with another's.
func isPath(name string) bool {
	return strings.IndexByte(name, '.') >= 0
}

// Claims parses the payload as a claim set.
func (j *JWS) Claims() (*Claims, error) {
	if len(j.payload) == 0 { // a JWS that did not come from Split: no payload is no claim set
		return nil, ErrClaimsJSON
	}
	// Split decoded the payload into bytes that nothing writes again, so the claims' strings can
	// alias them instead of a copy (see Claims.Raw). The capacity is cut so that an append to
	// Raw cannot reach into memory another Claims call shares.
	data := j.payload[:len(j.payload):len(j.payload)]
	return parseClaims(data, bytesString(data))
}
