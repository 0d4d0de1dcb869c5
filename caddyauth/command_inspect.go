package caddyauth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/internal/keys"
	"github.com/gatehouse-dev/gatehouse/internal/mint"
	"github.com/gatehouse-dev/gatehouse/internal/token"
	"github.com/gatehouse-dev/gatehouse/internal/verify"
)

func inspectCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "inspect [--token-env <NAME>] [--key <file.pem>] [--jwks-file <file>] [--jwks-url <url>] [--secret-env <NAME>] < token",
		Short: "Shows a token's header, claims and expiry, and whether it verifies",
		Long: `
Reads a JSON Web Token from stdin (or the environment variable --token-env
names) and prints its header, its claims, when it was issued and when it
expires in human terms ("expired 3 minutes ago", "valid for 4 minutes"),
and, when keys are given, whether it verifies against them with jwt_auth's
own verifier (signature, exp, nbf, iat with --leeway; any token_type).

Nothing secret is printed: not the signature (only its length), not the
HMAC secret, and claims whose names look like secrets (password, passwd,
pwd, secret, private, api_key, apikey) are shown as "[hidden]". A token
given as an argument works but is discouraged: other users can read it in
the process list, and it stays in the shell history.

--key
    A PEM public key (SPKI, as jwt_auth's public_key) or private key file.
    Repeatable.
--jwks-file, --jwks-url
    A JWK Set, as jwt_auth's jwks_file and jwks_url. Repeatable.
--secret-env
    The name of the environment variable holding an HMAC secret.
--leeway
    Clock skew allowed for exp, nbf and iat (default 60s, as jwt_auth's with keys).

The exit status is 1 when the token is malformed or does not verify.

Examples:

    caddy gatehouse inspect --jwks-url https://id.example.com/jwks < token.txt
    JWT_SECRET=... caddy gatehouse inspect --secret-env JWT_SECRET --token-env TOKEN
`,
		RunE: caddycmd.WrapCommandFuncForCobra(func(fs caddycmd.Flags) (int, error) {
			return cmdInspect(fs, processStdio(), time.Now())
		}),
	}
	f := cmd.Flags()
	f.String("token-env", "", "Name of the environment variable holding the token (default: read stdin)")
	f.StringArray("key", nil, "PEM public or private key file to verify with (repeatable)")
	f.StringArray("jwks-file", nil, "JWK Set file to verify with (repeatable)")
	f.StringArray("jwks-url", nil, "JWK Set URL to verify with (repeatable)")
	f.String("secret-env", "", "Name of the environment variable holding an HMAC secret to verify with")
	f.Duration("leeway", verify.DefaultLeeway, "Clock skew allowed for exp, nbf and iat")
	return cmd
}

// maxInspectedToken bounds what inspect reads: far above any real token, far below a mistake
// (a file piped by accident).
const maxInspectedToken = 1 << 20

// secretClaimWords mark claim names whose values inspect hides: no token should carry a
// password, but one that does must not have it printed on a terminal.
var secretClaimWords = []string{"password", "passwd", "pwd", "secret", "private", "api_key", "apikey"}

func secretClaim(name string) bool {
	n := strings.ToLower(name)
	for _, w := range secretClaimWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

func cmdInspect(fs caddycmd.Flags, sio stdio, now time.Time) (int, error) {
	raw, err := readToken(fs, sio)
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	leeway, err := fs.GetDuration("leeway")
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	provider, stop, n, err := inspectKeys(fs, sio)
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	defer stop()
	if err := describeToken(sio.out, raw, now); err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	if n == 0 {
		fmt.Fprintln(sio.out, "verified:   not checked (give --key, --jwks-file, --jwks-url or --secret-env)")
		return caddy.ExitCodeSuccess, nil
	}
	v, err := verify.New(verify.Policy{TokenType: verify.TokenTypeOff, Leeway: leeway, CacheSize: -1}, provider,
		func() time.Time { return now })
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	_, verr := v.Verify(context.Background(), raw)
	if verr == nil {
		fmt.Fprintf(sio.out, "verified:   yes, with %s\n", matchingKey(provider.Current(), raw))
		return caddy.ExitCodeSuccess, nil
	}
	var ve *verify.Error
	if errors.As(verr, &ve) {
		switch ve.Reason {
		case verify.ReasonExpired, verify.ReasonNotYetValid, verify.ReasonIssuedInFuture, verify.ReasonNoExp:
			// The verifier checks the signature before the claims: it is good.
			fmt.Fprintf(sio.out, "verified:   no: the signature is valid (%s), but %s (%s)\n",
				matchingKey(provider.Current(), raw), ve.Description, ve.Reason)
			return caddy.ExitCodeFailedStartup, fmt.Errorf("the token does not verify: %s", ve.Reason)
		}
		fmt.Fprintf(sio.out, "verified:   no: %s (%s)\n", ve.Description, ve.Reason)
		return caddy.ExitCodeFailedStartup, fmt.Errorf("the token does not verify: %s", ve.Reason)
	}
	return caddy.ExitCodeFailedStartup, verr
}

// readToken reads the token from --token-env, the argument (discouraged), or stdin.
func readToken(fs caddycmd.Flags, sio stdio) (string, error) {
	env := fs.String("token-env")
	switch {
	case env != "" && fs.NArg() > 0:
		return "", errors.New("give the token once: --token-env or stdin (an argument is discouraged)")
	case env != "":
		t := strings.TrimSpace(os.Getenv(env))
		if t == "" {
			return "", fmt.Errorf("environment variable %s is unset or empty; it must hold the token", env)
		}
		return t, nil
	case fs.NArg() > 1:
		return "", errors.New("give one token")
	case fs.NArg() == 1:
		fmt.Fprintln(sio.err, "warning: a token on the command line can be read by other users in the process list "+
			"and stays in the shell history; pipe it on stdin or use --token-env instead")
		return strings.TrimSpace(fs.Arg(0)), nil
	}
	if sio.inTerminal {
		fmt.Fprintln(sio.err, "paste the token, then press Enter and Ctrl-D:")
	}
	b, err := io.ReadAll(io.LimitReader(sio.in, maxInspectedToken+1))
	if err != nil {
		return "", fmt.Errorf("reading the token from stdin: %v", err)
	}
	if len(b) > maxInspectedToken {
		return "", fmt.Errorf("stdin holds more than %d bytes; a token is far shorter", maxInspectedToken)
	}
	t := strings.TrimSpace(string(b))
	if t == "" {
		return "", errors.New("no token on stdin; pipe one in (caddy gatehouse inspect < token.txt) or use --token-env")
	}
	return t, nil
}

// inspectKeys loads the keys given; n is how many sources were given. stop ends the JWK Set
// fetchers.
func inspectKeys(fs caddycmd.Flags, sio stdio) (p keys.Provider, stop func(), n int, err error) {
	var static []*keys.Key
	var remotes []*keys.Remote
	stop = func() {
		for _, r := range remotes {
			r.Stop()
		}
	}
	defer func() {
		if err != nil {
			stop()
		}
	}()
	pems, _ := fs.GetStringArray("key")
	for _, path := range pems {
		k, err := loadAnyPEM(path)
		if err != nil {
			return nil, stop, 0, err
		}
		static = append(static, k)
	}
	files, _ := fs.GetStringArray("jwks-file")
	for _, path := range files {
		ks, skipped, err := loadJWKS(path)
		if err != nil {
			return nil, stop, 0, err
		}
		for _, s := range skipped {
			fmt.Fprintf(sio.err, "jwks_file %s: key skipped: %s\n", path, s)
		}
		static = append(static, ks...)
	}
	if env := fs.String("secret-env"); env != "" {
		secret := os.Getenv(env)
		if secret == "" {
			return nil, stop, 0, fmt.Errorf("environment variable %s is unset or empty; it must hold the HMAC secret", env)
		}
		k, err := keys.FromSecret([]byte(secret), "--secret-env "+env)
		if err != nil {
			return nil, stop, 0, err
		}
		static = append(static, k)
	}
	providers := []keys.Provider{keys.Static{Set: keys.NewSet(static...)}}
	urls, _ := fs.GetStringArray("jwks-url")
	for _, u := range urls {
		r, err := keys.NewRemote(keys.RemoteOptions{URL: u}) // no Logger: silent
		if err != nil {
			return nil, stop, 0, err
		}
		remotes = append(remotes, r)
		r.Start()
	}
	// The fetches run in the background; wait for each to succeed or fail once.
	deadline := time.Now().Add(keys.DefaultTimeout + time.Second)
	for _, r := range remotes {
		for r.LastSuccess().IsZero() && r.LastError() == nil && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if err := r.LastError(); err != nil && r.LastSuccess().IsZero() {
			return nil, stop, 0, err
		}
		providers = append(providers, r)
	}
	return keys.NewMulti(providers...), stop, len(static) + len(remotes), nil
}

// loadAnyPEM reads a public key file, or a private key file (as keygen writes) whose public
// key then verifies.
func loadAnyPEM(path string) (*keys.Key, error) {
	origin := "key " + path
	data, err := readKeyFile(origin, path)
	if err != nil {
		return nil, err
	}
	if !bytes.Contains(data, []byte("PRIVATE KEY-----")) {
		return keys.ParsePEM(data, origin)
	}
	s, err := mint.ParsePEM(data, "")
	if err != nil {
		return nil, fmt.Errorf("%s: %v", origin, err)
	}
	pub, err := s.PublicPEM()
	if err != nil {
		return nil, fmt.Errorf("%s: %v", origin, err)
	}
	return keys.ParsePEM(pub, origin)
}

// matchingKey names the key of set that verifies raw, as the verifier chose among its
// candidates (the token's kid, or keys without one).
func matchingKey(set *keys.Set, raw string) string {
	j, err := token.Split(raw)
	if err != nil {
		return "a configured key"
	}
	for _, k := range set.Candidates(nil, j.Header.Kid, j.Header.Alg) {
		if k.Verify(j.Header.Alg, j.SigningInput, j.Signature) == nil {
			if k.ID != "" {
				return k.Origin + " (kid " + k.ID + ")"
			}
			return k.Origin
		}
	}
	return "a configured key"
}

// describeToken prints the header, the claims (secret-looking ones hidden) and the times of raw.
// The signature is never printed, only its size.
func describeToken(w io.Writer, raw string, now time.Time) error {
	parts := strings.Split(raw, ".")
	switch {
	case len(parts) == 5:
		return errors.New("the token has five segments: it is encrypted (JWE), and only signed tokens (JWS) can be inspected")
	case len(parts) != 3:
		return fmt.Errorf("not a JSON Web Token: %v", token.ErrSegments)
	}
	header, err := decodeSegment(parts[0])
	if err != nil {
		return fmt.Errorf("the token header is not base64url JSON: %v", err)
	}
	claims, err := decodeSegment(parts[1])
	if err != nil {
		return fmt.Errorf("the token claims are not base64url JSON: %v", err)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return errors.New("the token signature is not base64url")
	}
	hj, _ := json.MarshalIndent(header, "", "  ")
	cj, _ := json.MarshalIndent(maskSecrets(claims), "", "  ")
	fmt.Fprintf(w, "header:\n%s\nclaims:\n%s\n", hj, cj)
	if m, ok := claims.(map[string]any); ok {
		for _, c := range []struct{ name, label string }{{"iat", "issued:    "}, {"nbf", "not before:"}, {"exp", "expires:   "}} {
			if v, ok := m[c.name]; ok {
				fmt.Fprintf(w, "%s %s\n", c.label, describeTime(c.name, v, now))
			}
		}
		if _, ok := m["exp"]; !ok {
			fmt.Fprintln(w, "expires:    never (no exp claim: jwt_auth refuses it)")
		}
	} else {
		fmt.Fprintln(w, "the claims are not a JSON object: no verifier accepts this token")
	}
	hm, _ := header.(map[string]any)
	alg, _ := hm["alg"].(string)
	fmt.Fprintf(w, "signature:  %s, %d bytes (not shown)\n", alg, len(sig))
	return nil
}

// decodeSegment decodes a base64url JSON segment, keeping numbers as written.
func decodeSegment(seg string) (any, error) {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return nil, errors.New("not base64url")
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, errors.New("not JSON")
	}
	return v, nil
}

// maskSecrets replaces the values of secret-looking members, at any depth, with "[hidden]".
func maskSecrets(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			if secretClaim(k) {
				out[k] = "[hidden]"
			} else {
				out[k] = maskSecrets(x)
			}
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = maskSecrets(x)
		}
		return out
	}
	return v
}

// describeTime shows a NumericDate claim as a UTC time and relative to now.
func describeTime(name string, v any, now time.Time) string {
	n, ok := v.(json.Number)
	f, err := n.Float64()
	if !ok || err != nil || math.IsInf(f, 0) || f < 0 || f > 1<<53 {
		return "not a valid NumericDate (jwt_auth refuses it)"
	}
	t := time.Unix(int64(f), int64((f-math.Floor(f))*1e9)).UTC()
	d := t.Sub(now)
	stamp := t.Format("2006-01-02 15:04:05 UTC")
	switch name {
	case "exp":
		if d <= 0 {
			return fmt.Sprintf("%s (expired %s ago)", stamp, humanDuration(-d))
		}
		return fmt.Sprintf("%s (valid for %s)", stamp, humanDuration(d))
	case "nbf":
		if d > 0 {
			return fmt.Sprintf("%s (not valid for another %s)", stamp, humanDuration(d))
		}
		return fmt.Sprintf("%s (%s ago)", stamp, humanDuration(-d))
	}
	if d > 0 {
		return fmt.Sprintf("%s (in %s: issued in the future)", stamp, humanDuration(d))
	}
	return fmt.Sprintf("%s (%s ago)", stamp, humanDuration(-d))
}

// humanDuration says d in its two largest units: "3 minutes", "4 minutes 12 seconds",
// "2 days 3 hours".
func humanDuration(d time.Duration) string {
	d = d.Truncate(time.Second)
	if d < time.Second {
		return "less than a second"
	}
	units := []struct {
		size time.Duration
		name string
	}{{24 * time.Hour, "day"}, {time.Hour, "hour"}, {time.Minute, "minute"}, {time.Second, "second"}}
	var out []string
	for i, u := range units {
		if d < u.size {
			continue
		}
		n := int64(d / u.size)
		out = append(out, plural(n, u.name))
		if i+1 < len(units) {
			if m := int64((d % u.size) / units[i+1].size); m > 0 {
				out = append(out, plural(m, units[i+1].name))
			}
		}
		break
	}
	return strings.Join(out, " ")
}

func plural(n int64, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
