package token

import (
	"strings"
	"sync"
)

// Kind is the JSON type of a claim value.
type Kind uint8

// The kinds start at 1 (0 is "absent"); written with a blank first rather than iota + 1,
// because Traefik's interpreter (Yaegi v0.16) compares a variable wrongly with a constant of a
// type of its own defined by an expression (see traefik/yaegi_rules_test.go).
const (
	_ Kind = iota
	String
	Number
	Bool
	Null
	Array // an array whose elements are all scalars; Items holds them as text
	// Object is a value with no scalar text: an empty object, an array holding objects or arrays,
	// or (from Get) the name of an object whose members are flattened with dotted names. It is
	// recorded so that a claim such as {"exp":{}} is present, and refused, rather than absent.
	Object
)

// Value is one claim value. Text is the canonical text form used for placeholders, headers and
// `require` comparisons: strings unescaped, numbers as written in the JSON, true/false, null.
// For an Array, Text is the items joined with "," and Items holds each item's text.
type Value struct {
	Kind Kind
	// Strings reports, for an Array, that every item is a JSON string (so [1] is not an
	// audience "1"). It sits next to Kind, where the padding would be: a Member is 72 bytes, and
	// a typical claim set with its Claims fits one small allocation.
	Strings bool
	Text    string
	Num     float64 // for Number
	Items   []string
}

// Member is a flattened claim: nested objects become dotted names ("realm.roles").
// Arrays that contain objects or arrays, and empty objects, are not flattened: they appear as
// one member of Kind Object.
type Member struct {
	Name  string
	Value Value
}

// Claims is a decoded claim set, reachable through Get and Members. A claim set that is not a
// JSON object, or that has duplicate top-level member names or names that differ only in case, is
// refused by the decoder. A Claims is safe for concurrent use.
type Claims struct {
	// Raw is the decoded payload JSON. It must not be modified: the member texts may alias it.
	Raw []byte

	// members lists every flattened claim in document order. In Claims from (*JWS).Watch it is
	// built by build on first use: the payload was validated then, so building cannot fail.
	members []Member
	lazy    bool // members is built on first use; set before the Claims is shared, never after
	once    sync.Once
}

// Members returns every flattened claim in document order, the registered ones included. The
// slice is shared and must not be modified.
func (c *Claims) Members() []Member {
	if c.lazy {
		c.once.Do(c.build)
	}
	return c.members
}

// build decodes the members of Claims from Watch, whose payload Watch already validated. As in
// (*JWS).Claims, the member texts alias Raw.
func (c *Claims) build() {
	if full, err := parseClaims(c.Raw, bytesString(c.Raw)); err == nil {
		c.members = full.members
	}
}

// Get returns the flattened member with the given (dotted) name. For the name of an object that
// has flattened members it returns a Value of Kind Object (with empty Text), so that presence can
// be tested at any level.
func (c *Claims) Get(name string) (Value, bool) {
	members := c.Members()
	for i := range members {
		if members[i].Name == name {
			return members[i].Value, true
		}
	}
	for i := range members {
		if n := members[i].Name; len(n) > len(name) && n[len(name)] == '.' && strings.HasPrefix(n, name) {
			return Value{Kind: Object}, true
		}
	}
	return Value{}, false
}

// ParseClaims decodes a JSON claim set without reflection. It refuses anything that is not a
// single JSON object (trailing data included), duplicate member names at any level, and top-level
// names that are equal ignoring case (so "EXP" can never shadow or pose as "exp").
//
// It is also stricter than encoding/json about content: strings must be valid UTF-8 without lone
// surrogate escapes, numbers must fit a float64, nesting is limited to 32 levels, and two members
// whose flattened names collide ({"a.b":1,"a":{"b":2}}) are refused as duplicates. Raw is data
// itself; the member texts do not alias it (they do in the Claims of (*JWS).Claims, whose Raw
// nothing else holds).
func ParseClaims(data []byte) (*Claims, error) {
	// One copy makes every unescaped string a substring of s, without further allocation.
	return parseClaims(data, string(data))
}

// parseClaims is ParseClaims on s, the text of data, which the claims' strings alias: either a
// copy (ParseClaims) or data itself when nothing will write to it again ((*JWS).Claims).
func parseClaims(data []byte, s string) (*Claims, error) {
	// Each member is one name:value pair, so counting ':' bounds len(Members); the cap keeps a
	// hostile payload full of ':' from reserving memory for members it does not have.
	c := newClaims(min(strings.Count(s, ":"), 64))
	var d decoder // set field by field: a composite literal would take a second copy of it on the stack
	d.s, d.emit, d.members = s, true, c.members
	if err := d.text(); err != nil {
		return nil, claimsError(err)
	}
	if d.dotted && !distinctNames(d.members) {
		return nil, ErrDuplicate
	}
	c.Raw, c.members = data, d.members
	return c, nil
}

// claimsError is the error a claim set's decoding reports for a decoder error: ErrDuplicate, or
// else ErrClaimsJSON.
func claimsError(err error) error {
	if err == ErrDuplicate {
		return ErrDuplicate
	}
	return ErrClaimsJSON
}

// newClaims returns Claims with room for n members. A typical claim set has a handful, which
// share one allocation with the Claims instead of a second one of their own; the blocks step by
// two so that few bytes go unused.
func newClaims(n int) *Claims {
	switch {
	case n <= 2:
		return withMembers(func(m *[2]Member) []Member { return m[:0] })
	case n <= 4:
		return withMembers(func(m *[4]Member) []Member { return m[:0] })
	case n <= 6:
		return withMembers(func(m *[6]Member) []Member { return m[:0] })
	case n <= 8:
		return withMembers(func(m *[8]Member) []Member { return m[:0] })
	case n <= 12:
		return withMembers(func(m *[12]Member) []Member { return m[:0] })
	case n <= 16:
		return withMembers(func(m *[16]Member) []Member { return m[:0] })
	}
	return &Claims{members: make([]Member, 0, n)}
}

// withMembers allocates Claims and an array A of members in one block, and points Members at the
// array (empty, with its length as capacity).
func withMembers[A any](members func(*A) []Member) *Claims {
	b := new(struct {
		c Claims
		m A
	})
	b.c.members = members(&b.m)
	return &b.c
}

// distinctNames reports whether no two members share a name. Names are distinct within each
// object, so flattened names can only collide when a member name contains a '.'. It is kept out
// of line, so that its map does not sit in parseClaims' stack frame on every call.
//
//go:noinline
func distinctNames(members []Member) bool {
	seen := make(map[string]struct{}, len(members))
	for i := range members {
		if _, dup := seen[members[i].Name]; dup {
			return false
		}
		seen[members[i].Name] = struct{}{}
	}
	return true
}
