package caddyauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/internal/claimvalue"
	"github.com/gatehouse-dev/gatehouse/internal/mint"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "jwt-token",
		Usage: "--secret-env <NAME> [--claim <key=value>...] [--ttl <duration>] [--alg <HS256|HS384|HS512>]",
		Short: "Mints an HMAC-signed access token for testing jwt_auth",
		Long: `
Prints a JSON Web Token signed with an HMAC secret, shaped like a
Django REST Framework simplejwt access token, for trying out and testing
a jwt_auth configuration that uses the same secret.

--secret-env
    The name of the environment variable holding the secret (at least 32
    bytes; 48 for HS384, 64 for HS512). The secret is never taken from the
    command line, where other users could read it in the process list.

--claim
    A claim to add, as key=value; repeatable, one value per claim. The
    value is typed as jwt_issuer's Caddyfile claim types it: true and false
    are booleans, an integer without a leading zero within +-(2^53-1) is a
    number (user_id=7 is the number 7), anything else is a string
    (sub=alice, zip=007, ratio=1.5). A value in double quotes is a string
    whatever it looks like: --claim 'admin="true"' is the string "true"
    (the single quotes keep the double quotes from the shell). A --claim
    may replace token_type or jti but not exp or iat, which --ttl sets.

--ttl
    How long the token is valid (default 5m, simplejwt's access lifetime).

--alg
    HS256 (default), HS384 or HS512.

The token carries token_type "access", exp (now + ttl), iat and a random
jti, then the claims sorted by name, minted by the same code as
jwt_issuer's tokens.

Example:

    JWT_SECRET=$(openssl rand -base64 48) caddy jwt-token --secret-env JWT_SECRET --claim sub=alice --claim user_id=7
`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.Flags().String("secret-env", "", "Name of the environment variable holding the HMAC secret")
			cmd.Flags().StringArray("claim", nil, "A claim as key=value (repeatable)")
			cmd.Flags().Duration("ttl", 5*time.Minute, "How long the token is valid")
			cmd.Flags().String("alg", "HS256", "Signing algorithm: HS256, HS384 or HS512")
			cmd.RunE = caddycmd.WrapCommandFuncForCobra(cmdJWTToken)
		},
	})
}

func cmdJWTToken(fs caddycmd.Flags) (int, error) {
	env := fs.String("secret-env")
	if env == "" {
		return caddy.ExitCodeFailedStartup, errors.New("--secret-env is required: the name of the environment variable holding the secret")
	}
	secret := os.Getenv(env)
	if secret == "" {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("environment variable %s is unset or empty; it must hold the HMAC secret", env)
	}
	pairs, err := fs.GetStringArray("claim")
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	ttl, err := fs.GetDuration("ttl")
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	tok, err := mintToken([]byte(secret), fs.String("alg"), ttl, pairs, time.Now())
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	fmt.Println(tok)
	return caddy.ExitCodeSuccess, nil
}

// mintToken signs an access token with secret, through the issuer's own minting code
// (issuer/mint). It is the testable half of the jwt-token command.
func mintToken(secret []byte, alg string, ttl time.Duration, pairs []string, now time.Time) (string, error) {
	// NewHMACAlg applies the same minimum lengths as jwt_auth's secret, so a token minted here
	// is one jwt_auth could accept with that secret.
	signer, err := mint.NewHMACAlg(alg, secret, "--secret-env")
	if err != nil {
		return "", err
	}
	if ttl <= 0 {
		return "", fmt.Errorf("--ttl %s must be positive", ttl)
	}
	claims := make(map[string]json.RawMessage, len(pairs))
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return "", fmt.Errorf("--claim %q must be key=value", p)
		}
		if k == "exp" || k == "iat" {
			return "", fmt.Errorf("--claim %s cannot be set; use --ttl", k)
		}
		if _, ok := claims[k]; ok {
			return "", fmt.Errorf("--claim %s is given twice", k)
		}
		// The Caddyfile's `claim` types its values by the same rule.
		claims[k] = claimvalue.Encode(claimvalue.Arg(v))
	}
	t, err := mint.Standalone(signer, now, ttl, claims)
	if err != nil {
		return "", err
	}
	return t.Raw, nil
}
