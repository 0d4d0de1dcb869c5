package caddyauth

import (
	"errors"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/internal/users"
)

func usersCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "users --file <users file>",
		Short: "Lists the users of a users file with their hash algorithm and cost",
		Long: `
Reads a users file (jwt_issuer's users_file: user:hash lines, as htpasswd -B
or caddy hash-password make them) as jwt_issuer reads it, and lists each
user with the line that defines it, the hash algorithm (bcrypt, argon2id)
and its cost (bcrypt's cost; argon2id's memory, iterations, threads and key
length). The hashes are never printed. Lines jwt_issuer would skip are
listed on stderr with their number and what to fix, and make the command
exit with status 1.

Example:

    caddy gatehouse users --file /etc/caddy/users.txt
`,
		RunE: caddycmd.WrapCommandFuncForCobra(func(fs caddycmd.Flags) (int, error) {
			return cmdUsers(fs, processStdio())
		}),
	}
	cmd.Flags().String("file", "", "The users file")
	return cmd
}

func cmdUsers(fs caddycmd.Flags, sio stdio) (int, error) {
	path := fs.String("file")
	if path == "" {
		if fs.NArg() == 1 {
			path = fs.Arg(0)
		} else {
			return caddy.ExitCodeFailedStartup, errors.New("--file is required: the users file to list")
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("cannot read the users file %s: %v", path, pathErr(err))
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && !fi.Mode().IsRegular() {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("users file %s is not a regular file", path)
	}
	list, skipped, err := users.List(f, hashAlgorithms)
	if err != nil {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("reading the users file %s: %v", path, err)
	}
	tw := tabwriter.NewWriter(sio.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USER\tLINE\tALGORITHM\tCOST")
	for _, u := range list {
		cost := u.Cost
		if cost == "" {
			cost = "-"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", u.Name, u.Line, u.Algorithm, cost)
	}
	if err := tw.Flush(); err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	for _, e := range skipped {
		fmt.Fprintf(sio.err, "%s:%d: line skipped: %s\n", path, e.Line, e.Msg)
	}
	if len(skipped) > 0 {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("%d line(s) of %s are skipped by jwt_issuer; fix them", len(skipped), path)
	}
	return caddy.ExitCodeSuccess, nil
}
