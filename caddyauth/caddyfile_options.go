package caddyauth

import (
	"fmt"
	"sort"
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// optionBlock reads the options of one directive's block the way every Gatehouse directive
// does: an option that may be given once is refused the second time, an option of one argument
// has that argument checked by the same function Validate uses, with the error at the option's
// line, and the wrong number of values or an unknown option is answered from the block's table
// of options (optionTable): what the option takes with an example, or the nearest valid option.
type optionBlock struct {
	d       *caddyfile.Dispenser
	block   string                     // the block's name in optionTable, e.g. "jwt_issuer"
	head    caddyfile.Token            // the token that opened the block: errors about it all go there
	nesting int                        // the dispenser's nesting at head
	seen    map[string]caddyfile.Token // options given, and where
	cur     string                     // the option being read (see next)
	curArgs int                        // the number of values it was given on its line
}

// newOptionBlock starts reading the options of block (a key of optionTable) with d at the token
// that opens it: the directive's name, or the option that holds the block.
func newOptionBlock(d *caddyfile.Dispenser, block string) *optionBlock {
	return &optionBlock{d: d, block: block, head: d.Token(), nesting: d.Nesting(), seen: make(map[string]caddyfile.Token)}
}

// once refuses the option name if it was given before in this block.
func (o *optionBlock) once(name string) error {
	if _, ok := o.seen[name]; ok {
		return o.d.Errf("%s is already set; give it once", name)
	}
	o.seen[name] = o.d.Token()
	return nil
}

// arg reads the current option's one argument and checks it (check may be nil).
func (o *optionBlock) arg(check func(string) error) (string, error) {
	var v string
	if !o.d.AllArgs(&v) {
		return "", o.argErr()
	}
	if check != nil {
		if err := check(v); err != nil {
			return "", o.d.Errf("%v", err)
		}
	}
	return v, nil
}

// single reads option name, given at most once, of one argument that check accepts.
func (o *optionBlock) single(name string, check func(string) error) (string, error) {
	if err := o.once(name); err != nil {
		return "", err
	}
	return o.arg(check)
}

// at reports err at the line of option name, for checks made once the whole block is read; at
// the block's opening line when the option was not given.
func (o *optionBlock) at(name string, err error) error {
	tok, ok := o.seen[name]
	if !ok {
		return o.atHead(err)
	}
	return errAt(tok, err)
}

// atHead reports err at the line that opened the block (jwt_issuer, session, ...): the place of
// a mistake of the whole block, such as a missing setting, rather than its closing brace.
func (o *optionBlock) atHead(err error) error {
	return errAt(o.head, err)
}

// errAt reports err at tok's line, as the dispenser would.
func errAt(tok caddyfile.Token, err error) error {
	nd := caddyfile.NewDispenser([]caddyfile.Token{tok})
	nd.Next()
	return nd.Errf("%v", err)
}

// next moves to the block's next option, as d.NextBlock does, and notes it for argErr.
func (o *optionBlock) next() bool {
	if !o.d.NextBlock(o.nesting) {
		return false
	}
	o.cur, o.curArgs = o.d.Val(), o.d.CountRemainingArgs()
	return true
}

// argErr says what the current option takes, with an example, in place of Caddy's "wrong
// argument count": "access_ttl takes <duration>, e.g. access_ttl 5m; got 2 values". The values
// are counted, never quoted: they may be secrets. The error is at the dispenser's line.
func (o *optionBlock) argErr() error {
	return takesErr(o.d, o.block, o.cur, o.curArgs)
}

// takesErr is the error, at d's line, of option name of block given n values: what the option
// takes, from optionTable.
func takesErr(d *caddyfile.Dispenser, block, name string, n int) error {
	got := gotValues(n)
	if opt, ok := lookupOption(block, name); ok {
		return d.Errf("%s; %s", opt.takes(), got)
	}
	return d.Errf("%s: wrong number of values (%s)", name, got)
}

// gotValues says how many values were given: "got no value", "got 1 value", "got 2 values".
func gotValues(n int) string {
	switch n {
	case 0:
		return "got no value"
	case 1:
		return "got 1 value"
	}
	return fmt.Sprintf("got %d values", n)
}

// unknown refuses the current token as an option of the block, naming the nearest valid one
// ("did you mean access_ttl?"), the directive that has it ("users_file is an option of
// jwt_issuer, not of jwt_auth"), or else the block's options.
func (o *optionBlock) unknown() error {
	name := o.d.Val()
	msg := fmt.Sprintf("unrecognized %s option '%s'", o.block, name)
	names := optionNames(o.block)
	if best, ok := nearest(name, names); ok {
		return o.d.Errf("%s; did you mean %s?", msg, best)
	}
	if owner := ownerOf(name, o.block); owner != "" {
		return o.d.Errf("%s: %s is an option of %s, not of %s", msg, name, owner, o.block)
	}
	if len(names) == 0 {
		return o.d.Err(msg)
	}
	return o.d.Errf("%s; use %s", msg, orList(names))
}

// option is one line of a block's option table: the name, the values it takes in the docs'
// notation, and an example of those values.
type option struct {
	name    string
	syntax  string // e.g. "<duration>"; "" for an option without values
	example string // e.g. "5m"; "" for an option without values
}

// takes says what the option takes: "access_ttl takes <duration>, e.g. access_ttl 5m".
func (opt option) takes() string {
	switch {
	case opt.syntax == "":
		return opt.name + " takes no value"
	case opt.example == "":
		return opt.name + " takes " + opt.syntax
	}
	return fmt.Sprintf("%s takes %s, e.g. %s %s", opt.name, opt.syntax, opt.name, opt.example)
}

// lookupOption finds option name of block in optionTable.
func lookupOption(block, name string) (option, bool) {
	for _, opt := range optionTable[block] {
		if opt.name == name {
			return opt, true
		}
	}
	return option{}, false
}

// optionNames lists the options of block, in the table's order.
func optionNames(block string) []string {
	var names []string
	for _, opt := range optionTable[block] {
		names = append(names, opt.name)
	}
	return names
}

// ownerOf names the directives other than block (in sorted order, sub-blocks included) that
// have an option name, "" when none has.
func ownerOf(name, block string) string {
	var owners []string
	for b, opts := range optionTable {
		if b == block || (block == "jwt_forward_auth" && b == "jwt_auth") {
			continue
		}
		for _, opt := range opts {
			if opt.name == name {
				owners = append(owners, b)
				break
			}
		}
	}
	sort.Strings(owners)
	return orList(owners)
}

// orList joins names as "a, b or c".
func orList(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// nearest returns the candidate closest to name, ignoring case, when it is near enough to be the
// likely intent: at most one edit away for names of up to 4 characters, two for longer ones (an
// edit being an insertion, deletion, substitution or swap of neighbours). Of equally near
// candidates the first wins.
func nearest(name string, candidates []string) (string, bool) {
	limit := 2
	if len(name) <= 4 {
		limit = 1
	}
	best, bestDist := "", limit+1
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(name), c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best, best != ""
}

// editDistance is the optimal string alignment distance of a and b (Damerau-Levenshtein
// without repeated edits of one substring), over bytes: option names are ASCII.
func editDistance(a, b string) int {
	// Three rows of the dynamic programming table: i-2, i-1 and i.
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
