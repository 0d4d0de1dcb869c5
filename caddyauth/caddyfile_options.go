package caddyauth

import "github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

// optionBlock reads the options of one directive's block the way every Gatehouse directive
// does: an option that may be given once is refused the second time, and an option of one
// argument has that argument checked by the same function Validate uses, with the error at the
// option's line.
type optionBlock struct {
	d    *caddyfile.Dispenser
	seen map[string]caddyfile.Token // options given, and where
}

func newOptionBlock(d *caddyfile.Dispenser) *optionBlock {
	return &optionBlock{d: d, seen: make(map[string]caddyfile.Token)}
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
		return "", o.d.ArgErr()
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

// at reports err at the line of option name, for checks made once the whole block is read.
func (o *optionBlock) at(name string, err error) error {
	tok, ok := o.seen[name]
	if !ok {
		return o.d.Errf("%v", err)
	}
	nd := caddyfile.NewDispenser([]caddyfile.Token{tok})
	nd.Next()
	return nd.Errf("%v", err)
}
