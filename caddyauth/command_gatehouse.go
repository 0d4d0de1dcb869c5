package caddyauth

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// The gatehouse command groups Gatehouse's operator commands as subcommands, the way `caddy
// storage export|import` does: `caddy gatehouse keygen|inspect|revoke|users`. Each subcommand's
// work is a function of its flags and of the streams it is given, so that the unit tests run
// it as the binary does.

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "gatehouse",
		Usage: "keygen|inspect|revoke|users [flags]",
		Short: "Gatehouse commands: signing keys, token inspection, revocation, users",
		Long: `
Commands for running Gatehouse (the jwt_auth and jwt_issuer handlers):

    caddy gatehouse keygen   generates a signing key pair (PEM) and its JWK Set
    caddy gatehouse inspect  shows a token's header, claims and expiry, and
                             whether it verifies against given keys
    caddy gatehouse revoke   revokes a refresh token family or all of a user's
                             sessions in a jwt_issuer's storage
    caddy gatehouse users    lists the users of a users file with their hash
                             algorithm and cost

None of them prints a secret: not a private key to a terminal, not an HMAC
secret, not a token's signature, not a password hash.

Run caddy gatehouse <command> --help for its flags.
`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.AddCommand(keygenCommand(), inspectCommand(), revokeCommand(), usersCommand())
		},
	})
}

// stdio is what a subcommand reads and writes: the process's streams, or a test's buffers.
type stdio struct {
	in       io.Reader
	out, err io.Writer
	// outTerminal and inTerminal say whether out and in are terminals.
	outTerminal, inTerminal bool
}

// processStdio is the process's stdin, stdout and stderr.
func processStdio() stdio {
	return stdio{
		in: os.Stdin, out: os.Stdout, err: os.Stderr,
		outTerminal: term.IsTerminal(int(os.Stdout.Fd())),
		inTerminal:  term.IsTerminal(int(os.Stdin.Fd())),
	}
}

// writeFileAtomic writes data to path with mode perm through a temporary file in the same
// directory, renamed over path once complete: a private key is never readable by others, not
// even while it is written, and an existing file is replaced only with force.
func writeFileAtomic(path string, data []byte, perm os.FileMode, force bool) error {
	if !force {
		if _, err := os.Lstat(path); err == nil {
			return fmt.Errorf("%s exists; choose another file or add --force to replace it", path)
		}
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("cannot write %s: %v", path, pathErr(err))
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename there is nothing left to remove
	// CreateTemp makes the file 0600; Chmod sets perm exactly, whatever the umask.
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("cannot write %s: %v", path, pathErr(err))
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("cannot write %s: %v", path, pathErr(err))
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("cannot write %s: %v", path, pathErr(err))
	}
	if !force {
		// Link fails if path appeared meanwhile; rename would silently replace it.
		if err := os.Link(tmp, path); err != nil {
			return fmt.Errorf("cannot write %s: %v", path, pathErr(err))
		}
		return nil
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("cannot write %s: %v", path, pathErr(err))
	}
	return nil
}
