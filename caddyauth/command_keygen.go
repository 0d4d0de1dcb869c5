package caddyauth

import (
	"errors"
	"fmt"
	"strings"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/internal/mint"
)

func keygenCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keygen --out <private.pem> [--alg <alg>] [--bits <n>] [--public <public.pem>] [--jwks <jwks.json>]",
		Short: "Generates a signing key pair (PEM) and its JWK Set",
		Long: `
Generates a private signing key and writes it, PKCS#8 PEM, to --out with
mode 0600 (readable by its owner only). The public key is printed as a JWK
Set on stdout, or written to --jwks; --public also writes it as SPKI PEM.
The key id (kid) is the key's RFC 7638 thumbprint, as jwt_issuer's keys have.

The private key fits jwt_issuer's "signing_key file <private.pem>", which signs
with the key type's algorithm: EdDSA, ES256/384/512 by curve, RS256 for any
RSA key (so use RS256 there; a PS* or RS384/512 key is for other signers).
The JWK Set fits jwt_auth's jwks_file, the public PEM its public_key.

--alg
    EdDSA (Ed25519), ES256 (P-256, default), ES384 (P-384), ES512 (P-521),
    RS256, RS384, RS512, PS256, PS384 or PS512 (RSA).

--bits
    The RSA key size: 2048 to 8192 (default 3072). For RS* and PS* only.

--out
    The private key file (required). It is never replaced without --force.
    "-" writes the private key to stdout, which is refused when stdout is a
    terminal unless --print-private is given too.

--public, --jwks
    Also write the public key as PEM, and the JWK Set to a file (mode 0644)
    instead of stdout.

Example:

    caddy gatehouse keygen --alg EdDSA --out signing.pem --jwks jwks.json --public public.pem
`,
		RunE: caddycmd.WrapCommandFuncForCobra(func(fs caddycmd.Flags) (int, error) {
			return cmdKeygen(fs, processStdio())
		}),
	}
	f := cmd.Flags()
	f.String("alg", "ES256", "Signing algorithm: "+strings.Join(mint.GenerateAlgs, ", "))
	f.Int("bits", 0, "RSA key size in bits (default 3072)")
	f.String("out", "", `Private key file, written 0600 ("-": stdout, never a terminal without --print-private)`)
	f.String("public", "", "Also write the public key as PEM to this file")
	f.String("jwks", "", "Write the JWK Set to this file instead of stdout")
	f.Bool("force", false, "Replace existing files")
	f.Bool("print-private", false, "Allow --out - to print the private key to a terminal")
	return cmd
}

func cmdKeygen(fs caddycmd.Flags, sio stdio) (int, error) {
	out := fs.String("out")
	force, printPrivate := fs.Bool("force"), fs.Bool("print-private")
	jwksFile, publicFile := fs.String("jwks"), fs.String("public")
	bits, err := fs.GetInt("bits")
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	switch {
	case out == "":
		return caddy.ExitCodeFailedStartup, errors.New("--out is required: the file to write the private key to (mode 0600)")
	case out == "-" && sio.outTerminal && !printPrivate:
		return caddy.ExitCodeFailedStartup, errors.New("refusing to print a private key to a terminal; write it to a file (--out key.pem), " +
			"pipe stdout elsewhere, or add --print-private")
	case out == "-" && jwksFile == "":
		return caddy.ExitCodeFailedStartup, errors.New("--out - puts the private key on stdout, so the JWK Set needs a file of its own: add --jwks <file>")
	}
	for _, f := range []string{jwksFile, publicFile} {
		if f != "" && f == out {
			return caddy.ExitCodeFailedStartup, fmt.Errorf("%s is given for the private key and a public one; use two files", f)
		}
	}
	s, err := mint.GenerateKey(fs.String("alg"), bits)
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	priv, err := s.MarshalPEM()
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	jwks, err := s.PublicJWKS()
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	if out == "-" {
		if _, err := sio.out.Write(priv); err != nil {
			return caddy.ExitCodeFailedStartup, err
		}
	} else if err := writeFileAtomic(out, priv, 0o600, force); err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	if publicFile != "" {
		pub, err := s.PublicPEM()
		if err != nil {
			return caddy.ExitCodeFailedStartup, err
		}
		if err := writeFileAtomic(publicFile, pub, 0o644, force); err != nil {
			return caddy.ExitCodeFailedStartup, err
		}
	}
	if jwksFile != "" {
		if err := writeFileAtomic(jwksFile, jwks, 0o644, force); err != nil {
			return caddy.ExitCodeFailedStartup, err
		}
	} else if _, err := sio.out.Write(jwks); err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	where := out + " (mode 0600)"
	if out == "-" {
		where = "stdout"
	}
	fmt.Fprintf(sio.err, "wrote the %s private key to %s; kid %s\n", s.Alg, where, s.Kid)
	if strings.HasPrefix(s.Alg, "PS") || s.Alg == "RS384" || s.Alg == "RS512" {
		// jwt_issuer's signing_key file signs with a key type's first algorithm, RS256 for RSA.
		fmt.Fprintf(sio.err, "note: jwt_issuer's signing_key file signs RS256 with an RSA key, and this JWK Set allows %s only; "+
			"for jwt_issuer, generate --alg RS256 (or an EdDSA or ECDSA key)\n", s.Alg)
	}
	if publicFile != "" {
		fmt.Fprintf(sio.err, "wrote the public key to %s\n", publicFile)
	}
	if jwksFile != "" {
		fmt.Fprintf(sio.err, "wrote the JWK Set to %s\n", jwksFile)
	}
	return caddy.ExitCodeSuccess, nil
}
