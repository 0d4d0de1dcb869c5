package caddyauth

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/golang-jwt/jwt/v5"
	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/keys"
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
    A claim to add, as key=value; repeatable. A value that is a JSON
    number or boolean keeps its type (user_id=7 is the number 7), anything
    else is a string (sub=alice). A --claim may replace token_type or jti
    but not exp or iat, which --ttl sets.

--ttl
    How long the token is valid (default 5m, simplejwt's access lifetime).

--alg
    HS256 (default), HS384 or HS512.

The token carries token_type "access", iat, exp (now + ttl) and a random jti.
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

// mintToken signs an access token with secret. It is the testable half of the jwt-token command.
func mintToken(secret []byte, alg string, ttl time.Duration, pairs []string, now time.Time) (string, error) {
	method, ok := hmacMethods[alg]
	if !ok {
		return "", fmt.Errorf("--alg %q is not supported; use HS256, HS384 or HS512", alg)
	}
	// keys.FromSecret applies the same minimum lengths as jwt_auth's secret, so a token minted
	// here is one jwt_auth could accept with that secret.
	key, err := keys.FromSecret(secret, "--secret-env")
	if err != nil {
		return "", err
	}
	if !key.Allows(alg) {
		return "", fmt.Errorf("the secret is %d bytes, too short for %s; use HS256 or a longer secret", len(secret), alg)
	}
	if ttl <= 0 {
		return "", fmt.Errorf("--ttl %s must be positive", ttl)
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	claims := jwt.MapClaims{
		"token_type": "access",
		"iat":        now.Unix(),
		"exp":        now.Add(ttl).Unix(),
		"jti":        hex.EncodeToString(jti),
	}
	seen := make(map[string]bool, len(pairs))
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return "", fmt.Errorf("--claim %q must be key=value", p)
		}
		if k == "exp" || k == "iat" {
			return "", fmt.Errorf("--claim %s cannot be set; use --ttl", k)
		}
		if seen[k] {
			return "", fmt.Errorf("--claim %s is given twice", k)
		}
		seen[k] = true
		claims[k] = claimValue(v)
	}
	return jwt.NewWithClaims(method, claims).SignedString(secret)
}

var hmacMethods = map[string]jwt.SigningMethod{
	"HS256": jwt.SigningMethodHS256,
	"HS384": jwt.SigningMethodHS384,
	"HS512": jwt.SigningMethodHS512,
}

// claimValue keeps a JSON number or boolean typed, so user_id=7 is the number simplejwt would
// put in the token; anything else is the string as given.
func claimValue(v string) any {
	switch v {
	case "true":
		return true
	case "false":
		return false
	}
	// A JSON number starts with a minus or a digit; json.Valid then checks the rest. Surrounding
	// whitespace, which JSON would allow, keeps the value a string.
	if v != "" && (v[0] == '-' || v[0] >= '0' && v[0] <= '9') && strings.TrimSpace(v) == v && json.Valid([]byte(v)) {
		return json.Number(v)
	}
	return v
}
