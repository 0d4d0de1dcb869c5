package token

import (
	"errors"
	"hash/maphash"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file is a small recursive-descent JSON scanner (RFC 8259) for JOSE headers and claim
// sets. It is stricter than encoding/json where ambiguity could help an attacker: invalid UTF-8,
// lone surrogate escapes (RFC 7493 §2.1), duplicate member names and numbers beyond float64 are
// refused instead of being replaced, ignored or resolved last-wins.

// maxDepth bounds the nesting of objects and arrays so that hostile input cannot exhaust the
// stack. Real claim sets nest two or three levels.
const maxDepth = 32

// pairwiseLimit is the member count up to which an object's names are checked for duplicates by
// comparing them pairwise. Larger objects (hostile, or unusual) switch to a map.
const pairwiseLimit = 16

// errSyntax is the scanner's internal "not valid JSON"; Split and ParseClaims map it to ErrHeader
// or ErrClaimsJSON.
var errSyntax = errors.New("invalid JSON")

// decoder scans one JSON text held in s.
type decoder struct {
	s     string
	i     int // next byte to read
	depth int // open objects and arrays

	// names holds the member names of the objects being parsed, outermost first; each object
	// truncates it back when it closes.
	names strStack

	// emit: flattened members are appended to members (ParseClaims). Otherwise the scanner only
	// validates, and with isHeader the top-level members a JOSE header defines go to header.
	emit     bool
	members  []Member
	isHeader bool
	header   Header
	sawAlg   bool
	items    strStack // the scalar array being collected
	dotted   bool     // a member name contains '.', so flattened names may collide
	scratch  []byte   // scratch for unescaping strings

	// watch, in the validating scan of (*JWS).Watch: the top-level names whose values it
	// keeps; watched[i] is the value of watch[i], a zero Value when absent. (An array here rather
	// than the caller's slice, which would escape through the methods.) complex is set when a
	// watched name holds an object or an array.
	watch   []string
	watched [maxWatch]Value
	complex bool
}

// maxWatch is how many names (*JWS).Watch locates in its scan; with more it decodes everything.
const maxWatch = 8

// strStack is a stack of strings whose first entries live inline, so that a decoder kept on the
// goroutine stack needs no allocation for the usual handful of names or array items. (A slice of
// a local array would escape: escape analysis does not follow it through the decoder's methods.)
type strStack struct {
	inline [16]string
	more   []string
	n      int
}

// push adds v on top.
func (s *strStack) push(v string) {
	if s.n < len(s.inline) {
		s.inline[s.n] = v
	} else {
		s.more = append(s.more[:s.n-len(s.inline)], v)
	}
	s.n++
}

// at returns entry i, counted from the bottom.
func (s *strStack) at(i int) string {
	if i < len(s.inline) {
		return s.inline[i]
	}
	return s.more[i-len(s.inline)]
}

// clone returns the entries from start on in a new slice.
func (s *strStack) clone(start int) []string {
	out := make([]string, s.n-start)
	for i := range out {
		out[i] = s.at(start + i)
	}
	return out
}

// ws skips JSON whitespace.
func (d *decoder) ws() {
	d.i = skipSpace(d.s, d.i)
}

// text parses the single JSON object that d.s must consist of, whitespace aside.
func (d *decoder) text() error {
	d.ws()
	if d.i >= len(d.s) || d.s[d.i] != '{' {
		return errSyntax
	}
	if err := d.object("", true, d.emit); err != nil {
		return err
	}
	d.ws()
	if d.i != len(d.s) {
		return errSyntax // trailing data: a second value or garbage
	}
	return nil
}

// watchMember parses the value of the top-level member name in a validating scan and, when name
// is watched, keeps it if it is a scalar (or records that it is an object or array), at every
// index where watch has name.
func (d *decoder) watchMember(name string) error {
	if !slices.Contains(d.watch, name) || d.i >= len(d.s) {
		return d.value("", false)
	}
	if c := d.s[d.i]; c == '{' || c == '[' {
		d.complex = true
		return d.value("", false)
	}
	v, err := d.scalar()
	keepWatched(d.watch, d.watched[:], name, v)
	return err
}

// keepWatched sets vals[k] to v at every index k where names has name: a name may be watched
// more than once.
func keepWatched(names []string, vals []Value, name string, v Value) {
	for k, w := range names {
		if w == name {
			vals[k] = v
		}
	}
}

// value parses one JSON value at d.i. With emit, a scalar or scalar array is recorded as the
// member name, and an object's members are recorded as name + "." + member.
func (d *decoder) value(name string, emit bool) error {
	if d.i >= len(d.s) {
		return errSyntax
	}
	switch d.s[d.i] {
	case '{':
		return d.object(name, false, emit)
	case '[':
		return d.array(name, emit)
	}
	v, err := d.scalar()
	if err != nil {
		return err
	}
	if emit {
		d.members = append(d.members, Member{Name: name, Value: v})
	}
	return nil
}

// object parses an object at d.i (which is '{'). top marks the outermost object, whose member
// names must also differ ignoring case and are not prefixed with path.
func (d *decoder) object(path string, top, emit bool) error {
	d.depth++
	if d.depth > maxDepth {
		return errSyntax
	}
	d.i++
	start := d.names.n
	var seen map[uint64]int
	d.ws()
	if d.i < len(d.s) && d.s[d.i] == '}' {
		d.i++
		d.depth--
		if emit && !top {
			// An empty object has no leaves to flatten; recording it keeps {"exp":{}} from
			// passing as a claim set without exp.
			d.members = append(d.members, Member{Name: path, Value: Value{Kind: Object}})
		}
		return nil
	}
	for {
		if d.i >= len(d.s) || d.s[d.i] != '"' {
			return errSyntax
		}
		name, err := d.str()
		if err != nil {
			return err
		}
		if err := d.unique(name, start, top, &seen); err != nil {
			return err
		}
		d.names.push(name)
		d.ws()
		if d.i >= len(d.s) || d.s[d.i] != ':' {
			return errSyntax
		}
		d.i++
		d.ws()
		if isPath(name) {
			d.dotted = true
		}
		switch {
		case top && d.isHeader:
			err = d.headerMember(name)
		case emit:
			if !top {
				name = path + "." + name
			}
			err = d.value(name, true)
		case top && d.watch != nil:
			err = d.watchMember(name)
		default:
			err = d.value("", false)
		}
		if err != nil {
			return err
		}
		d.ws()
		if d.i >= len(d.s) {
			return errSyntax
		}
		switch d.s[d.i] {
		case ',':
			d.i++
			d.ws()
		case '}':
			d.i++
			d.names.n = start
			d.depth--
			return nil
		default:
			return errSyntax
		}
	}
}

// unique refuses name when the object whose names start at d.names.at(start) already has it; in
// the top-level object, names equal under Unicode case folding count as the same.
func (d *decoder) unique(name string, start int, top bool, seen *map[uint64]int) error {
	if *seen == nil {
		if d.names.n-start < pairwiseLimit {
			for i := start; i < d.names.n; i++ {
				if sameName(d.names.at(i), name, top) {
					return ErrDuplicate
				}
			}
			return nil
		}
		// The names so far are distinct, so each hash maps to one of them. A member takes at
		// least 6 bytes ("a":0,), so sizing for what is left of the input avoids rehashing.
		*seen = make(map[uint64]int, d.names.n-start+(len(d.s)-d.i)/6)
		for i := start; i < d.names.n; i++ {
			(*seen)[nameHash(d.names.at(i), top)] = i
		}
	}
	h := nameHash(name, top)
	i, ok := (*seen)[h]
	if !ok {
		(*seen)[h] = d.names.n // the index push is about to give name
		return nil
	}
	// Equal hashes: a duplicate or, with a random seed practically never, a collision. Only a
	// full scan settles a collision; the map keeps pointing at the first name.
	if sameName(d.names.at(i), name, top) {
		return ErrDuplicate
	}
	for i := start; i < d.names.n; i++ {
		if sameName(d.names.at(i), name, top) {
			return ErrDuplicate
		}
	}
	return nil
}

// sameName compares member names, ignoring case for top-level names.
func sameName(a, b string, top bool) bool {
	return a == b || top && strings.EqualFold(a, b)
}

// hashSeed is random per process, so hostile names cannot be chosen to collide.
var hashSeed = maphash.MakeSeed()

// nameHash hashes a member name; top-level names are hashed case-folded, so that names equal
// under strings.EqualFold hash alike.
func nameHash(name string, top bool) uint64 {
	if !top {
		return maphash.String(hashSeed, name)
	}
	var buf [64]byte
	b := buf[:0]
	for i := 0; i < len(name); {
		if c := name[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			b = append(b, c)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(name[i:])
		b = utf8.AppendRune(b, foldRune(r))
		i += n
	}
	return maphash.Bytes(hashSeed, b)
}

// foldRune returns the smallest rune of r's Unicode simple case folding orbit, the rune all
// runes that strings.EqualFold considers equal share. For ASCII letters that is the upper case
// letter (the orbits of 'k' and 's' include U+212A KELVIN SIGN and U+017F LONG S, both larger).
func foldRune(r rune) rune {
	m := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < m { // not min(m, f): this package's interpreter stand-in for min is for ints
			m = f
		}
	}
	return m
}

// headerMember consumes the value of the top-level header member name.
func (d *decoder) headerMember(name string) error {
	switch name {
	case "alg":
		if d.i >= len(d.s) || d.s[d.i] != '"' {
			return ErrHeaderAlg
		}
		s, err := d.str()
		d.header.Alg, d.sawAlg = s, true
		return err
	case "kid", "typ":
		if d.i >= len(d.s) || d.s[d.i] != '"' {
			return ErrHeader
		}
		s, err := d.str()
		if name == "kid" {
			d.header.Kid = s
		} else {
			d.header.Typ = s
		}
		return err
	case "crit":
		d.header.Crit = true
	}
	// jku, x5u, jwk, x5c and anything else: validated, never surfaced.
	return d.value("", false)
}

// array parses an array at d.i (which is '['). With emit, an array of scalars only is recorded
// as one Array member; an array holding objects or arrays is recorded as an Object member, with
// no text, so that it is present but never matches, forwards or fills a placeholder.
func (d *decoder) array(name string, emit bool) error {
	d.depth++
	if d.depth > maxDepth {
		return errSyntax
	}
	d.i++
	collect, strs := emit, true
	if collect {
		d.items.n = 0
	}
	d.ws()
	if d.i < len(d.s) && d.s[d.i] == ']' {
		d.i++
		d.depth--
		if emit {
			d.members = append(d.members, Member{Name: name, Value: Value{Kind: Array, Strings: true}})
		}
		return nil
	}
	for {
		if d.i >= len(d.s) {
			return errSyntax
		}
		switch d.s[d.i] {
		case '{', '[':
			collect = false
			if err := d.value("", false); err != nil {
				return err
			}
		default:
			v, err := d.scalar()
			if err != nil {
				return err
			}
			if collect {
				d.items.push(v.Text)
				strs = strs && v.Kind == String
			}
		}
		d.ws()
		if d.i >= len(d.s) {
			return errSyntax
		}
		switch d.s[d.i] {
		case ',':
			d.i++
			d.ws()
		case ']':
			d.i++
			d.depth--
			switch {
			case collect:
				items := d.items.clone(0)
				d.members = append(d.members, Member{Name: name, Value: Value{
					Kind: Array, Text: strings.Join(items, ","), Items: items, Strings: strs,
				}})
			case emit:
				d.members = append(d.members, Member{Name: name, Value: Value{Kind: Object}})
			}
			return nil
		default:
			return errSyntax
		}
	}
}

// scalar parses a string, number, true, false or null at d.i.
func (d *decoder) scalar() (Value, error) {
	switch c := d.s[d.i]; {
	case c == '"':
		s, err := d.str()
		return Value{Kind: String, Text: s}, err
	case c == '-' || '0' <= c && c <= '9':
		return d.number()
	case c == 't':
		return d.literal("true", Bool)
	case c == 'f':
		return d.literal("false", Bool)
	case c == 'n':
		return d.literal("null", Null)
	}
	return Value{}, errSyntax
}

// literal parses the literal lit at d.i.
func (d *decoder) literal(lit string, k Kind) (Value, error) {
	if !strings.HasPrefix(d.s[d.i:], lit) {
		return Value{}, errSyntax
	}
	d.i += len(lit)
	return Value{Kind: k, Text: lit}, nil
}

// number parses a number at d.i with the RFC 8259 §6 grammar (no leading zeros, '+', '.5', '5.',
// hex, Inf or NaN). Text keeps the literal; numbers that overflow float64 are refused.
func (d *decoder) number() (Value, error) {
	s, i := d.s, d.i
	if s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		i = digits(s, i)
	default:
		return Value{}, errSyntax
	}
	if i < len(s) && s[i] == '.' {
		j := digits(s, i+1)
		if j == i+1 {
			return Value{}, errSyntax
		}
		i = j
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := digits(s, i)
		if j == i {
			return Value{}, errSyntax
		}
		i = j
	}
	text := s[d.i:i]
	d.i = i
	if f, ok := smallInt(text); ok {
		return Value{Kind: Number, Text: text, Num: f}, nil
	}
	// The grammar above is a subset of ParseFloat's, so the only error left is a range error
	// (±Inf), which would let e.g. an "exp" of 1e999 pose as "never expires".
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return Value{}, errSyntax
	}
	return Value{Kind: Number, Text: text, Num: f}, nil
}

// smallInt converts an integer literal of at most 15 digits, which float64 holds exactly, faster
// than strconv.ParseFloat. Most claim numbers (exp, iat, ids) are such integers.
func smallInt(text string) (float64, bool) {
	digits := text
	if digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) > 15 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	f := float64(n)
	if len(digits) < len(text) {
		f = -f
	}
	return f, true
}

// digits returns the index of the first non-digit in s at or after i.
func digits(s string, i int) int {
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	return i
}

// str parses a string at d.i (which is '"') and returns its unescaped value. A string without
// escapes is returned as a substring of d.s, without copying.
func (d *decoder) str() (string, error) {
	s := d.s
	for i := d.i + 1; i < len(s); {
		switch c := s[i]; {
		case c == '"':
			v := s[d.i+1 : i]
			d.i = i + 1
			return v, nil
		case c == '\\':
			return d.strEscaped(i)
		case c < 0x20:
			return "", errSyntax // control characters must be escaped
		case c < utf8.RuneSelf:
			i++
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				return "", errSyntax
			}
			i += n
		}
	}
	return "", errSyntax
}

// strEscaped finishes parsing the string that starts at d.i and has its first escape at esc.
func (d *decoder) strEscaped(esc int) (string, error) {
	s := d.s
	b := append(d.scratch[:0], s[d.i+1:esc]...)
	for i := esc; i < len(s); {
		switch c := s[i]; {
		case c == '"':
			d.i = i + 1
			d.scratch = b
			return string(b), nil
		case c == '\\':
			if i+1 >= len(s) {
				return "", errSyntax
			}
			i += 2
			switch s[i-1] {
			case '"', '\\', '/':
				b = append(b, s[i-1])
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r, ok := hex4(s, i)
				if !ok {
					return "", errSyntax
				}
				i += 4
				switch {
				case 0xdc00 <= r && r <= 0xdfff:
					return "", errSyntax // low surrogate without a high one
				case 0xd800 <= r && r <= 0xdbff:
					// A high surrogate must be followed by an escaped low surrogate.
					if i+1 >= len(s) || s[i] != '\\' || s[i+1] != 'u' {
						return "", errSyntax
					}
					lo, ok := hex4(s, i+2)
					if !ok || lo < 0xdc00 || lo > 0xdfff {
						return "", errSyntax
					}
					i += 6
					r = 0x10000 + (r-0xd800)<<10 + (lo - 0xdc00)
				}
				b = utf8.AppendRune(b, r)
			default:
				return "", errSyntax
			}
		case c < 0x20:
			return "", errSyntax
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				return "", errSyntax
			}
			b = append(b, s[i:i+n]...)
			i += n
		}
	}
	return "", errSyntax
}

// hex4 decodes the four hex digits at s[i:].
func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[i : i+4]) {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
