package users

import (
	"io"
	"strings"
)

// Listed is one user of a users file as `caddy gatehouse users` shows it: what the hash costs,
// never the hash.
type Listed struct {
	Name string
	Line int
	// Algorithm is the Algorithm's Name: "bcrypt", "argon2id".
	Algorithm string
	// Cost is what one comparison costs: "cost=12" for bcrypt, "m=47104,t=1,p=1,k=32" for
	// argon2id, "" for a format this package does not read.
	Cost string
}

// List reads a users file as Local does (the same lines are used, the same are skipped with the
// same messages) and returns its users in line order with their hash algorithm and cost.
func List(r io.Reader, algs []Algorithm) ([]Listed, []LineError, error) {
	lr := &io.LimitedReader{R: r, N: maxFileSize + 1}
	fus, skipped, err := parseHtpasswd(lr, algs)
	switch {
	case err != nil:
		return nil, skipped, err
	case lr.N == 0:
		return nil, skipped, errFileTooLarge
	}
	out := make([]Listed, 0, len(fus))
	for _, u := range fus {
		_, cost, _ := strings.Cut(costClass(u.alg, u.hash), ":")
		out = append(out, Listed{Name: u.name, Line: u.line, Algorithm: algs[u.alg].Name, Cost: cost})
	}
	return out, skipped, nil
}
