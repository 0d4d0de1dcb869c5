package caddyauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/internal/kv"
	"github.com/gatehouse-dev/gatehouse/internal/mint"
	"github.com/gatehouse-dev/gatehouse/internal/revoke"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

func revokeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "revoke --config <file> [--adapter <name>] [--issuer <name>] (--family <id> | --user <id> | --token-env <NAME> | --token-stdin)",
		Short: "Revokes a refresh token family or all of a user's sessions",
		Long: `
Revokes refresh tokens of a jwt_issuer in the storage its Caddy keeps them
in: Caddy's storage (the file system by default, or the configured storage
module) or the issuer's store redis. A running Caddy sees the revocation at
the next refresh, without a reload: it reads the store on every refresh.
Access tokens already issued stay valid until they expire (access_ttl,
5 minutes by default); browser sessions end at their next renewal.

The configuration is loaded as caddy run loads it (--config, --adapter),
with the same environment for its placeholders; run the command as the
user Caddy runs as, so that the file storage is the same directory.

--issuer
    The issuer's name: a gatehouse global option's issuer, or a jwt_issuer's
    name ("default" for one without). Needed when there are several.
--family
    Revoke the refresh token family with this id: the fam claim of a
    refresh token (or its jti, for a token without fam). Every token of the
    login it started is refused from now on.
--token-stdin, --token-env
    Revoke the family of the refresh token read from stdin, or from the
    environment variable named. The token is not printed.
--user
    Revoke all of a user's sessions: every refresh token whose user id claim
    (user_id_claim, user_id by default; the username unless the user has a
    user_id claim) has this value and that was issued until now is refused.
    The user can log in again at once.

Examples:

    caddy gatehouse revoke --config /etc/caddy/Caddyfile --user alice
    caddy gatehouse revoke --config /etc/caddy/Caddyfile --issuer shop --token-stdin < refresh.txt
`,
		RunE: caddycmd.WrapCommandFuncForCobra(func(fs caddycmd.Flags) (int, error) {
			return cmdRevoke(fs, processStdio(), time.Now())
		}),
	}
	f := cmd.Flags()
	f.StringP("config", "c", "", "Configuration file (default: the Caddyfile in the current directory)")
	f.StringP("adapter", "a", "", "Name of config adapter to apply")
	f.String("issuer", "", "Name of the issuer (needed when the configuration has several)")
	f.String("family", "", "Revoke the refresh token family with this id (fam claim)")
	f.String("user", "", "Revoke every session of the user with this id (user id claim)")
	f.String("token-env", "", "Revoke the family of the refresh token in this environment variable")
	f.Bool("token-stdin", false, "Revoke the family of the refresh token read from stdin")
	return cmd
}

func cmdRevoke(fs caddycmd.Flags, sio stdio, now time.Time) (int, error) {
	family, user, env, stdin := fs.String("family"), fs.String("user"), fs.String("token-env"), fs.Bool("token-stdin")
	given := 0
	for _, b := range []bool{family != "", user != "", env != "", stdin} {
		if b {
			given++
		}
	}
	if given != 1 {
		return caddy.ExitCodeFailedStartup, errors.New("give one of --family <id>, --user <id>, --token-env <NAME> or --token-stdin: what to revoke")
	}
	var tokenExp time.Time
	if env != "" || stdin {
		raw, err := revokeTokenInput(env, sio.in)
		if err != nil {
			return caddy.ExitCodeFailedStartup, err
		}
		if family, tokenExp, err = refreshFamily(raw); err != nil {
			return caddy.ExitCodeFailedStartup, err
		}
	}
	if family != "" {
		if err := revoke.CheckID("family id", family); err != nil {
			return caddy.ExitCodeFailedStartup, err
		}
	}
	cfgJSON, _, _, err := caddycmd.LoadConfig(fs.String("config"), fs.String("adapter"))
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	storage, err := configStorage(ctx, cfgJSON)
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	name, cfg, err := findIssuer(cfgJSON, fs.String("issuer"))
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	if err := cfg.validate(); err != nil {
		return caddy.ExitCodeFailedStartup, withSource(cfg.Source, err)
	}
	st, err := cfg.openState(storage, name, zap.NewNop())
	if err != nil {
		return caddy.ExitCodeFailedStartup, withSource(cfg.Source, err)
	}
	defer st.close()
	refresh := time.Duration(cfg.RefreshTTL)
	if refresh == 0 {
		refresh = defaultRefreshTTL
	}
	// Until every token the revocation is about has expired: a family lives at most a refresh
	// lifetime from its login (rotation keeps its exp), and so does any token issued until now.
	until := now.Add(refresh)
	if tokenExp.After(until) {
		until = tokenExp
	}
	access := time.Duration(cfg.AccessTTL)
	if access == 0 {
		access = defaultAccessTTL
	}
	note := func() {
		fmt.Fprintf(sio.err, "note: access tokens already issued stay valid until they expire (access_ttl %s)\n", access)
	}
	rctx, rcancel := context.WithTimeout(ctx, provisionTimeout)
	defer rcancel()
	if user != "" {
		if err := st.revocations.RevokeUser(rctx, user, until); err != nil {
			return caddy.ExitCodeFailedStartup, fmt.Errorf("issuer %s: %w", name, err)
		}
		fmt.Fprintf(sio.out, "issuer %s: revoked the sessions of user %q: its refresh tokens issued until %s are refused\n",
			name, user, now.UTC().Format("2006-01-02 15:04:05 UTC"))
		note()
		return caddy.ExitCodeSuccess, nil
	}
	if err := st.revocations.RevokeFamily(rctx, family, until); err != nil {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("issuer %s: %w", name, err)
	}
	fmt.Fprintf(sio.out, "issuer %s: revoked refresh token family %s\n", name, family)
	note()
	return caddy.ExitCodeSuccess, nil
}

// revokeTokenInput reads a refresh token from the environment variable env, or from in.
func revokeTokenInput(env string, in io.Reader) (string, error) {
	if env != "" {
		t := strings.TrimSpace(os.Getenv(env))
		if t == "" {
			return "", fmt.Errorf("environment variable %s is unset or empty; it must hold the refresh token", env)
		}
		return t, nil
	}
	b, err := io.ReadAll(io.LimitReader(in, maxInspectedToken+1))
	if err != nil {
		return "", fmt.Errorf("reading the token from stdin: %v", err)
	}
	t := strings.TrimSpace(string(b))
	if t == "" || len(b) > maxInspectedToken {
		return "", errors.New("no refresh token on stdin; pipe one in, or give --family <id>")
	}
	return t, nil
}

// refreshFamily reads the family and expiry of a refresh token. Its signature is not checked:
// revoking is what the operator asks for, and a family id names nothing but a family.
func refreshFamily(raw string) (family string, exp time.Time, err error) {
	j, err := token.Split(raw)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("not a refresh token: %v", err)
	}
	c, err := j.Claims()
	if err != nil {
		return "", time.Time{}, fmt.Errorf("not a refresh token: %v", err)
	}
	if tt, ok := c.Get("token_type"); !ok || tt.Text != "refresh" {
		return "", time.Time{}, errors.New("the token is not a refresh token (token_type is not refresh); give a refresh token, or --user to end all of a user's sessions")
	}
	for _, name := range []string{mint.FamilyClaim, "jti"} {
		if v, ok := c.Get(name); ok && v.Kind == token.String && v.Text != "" {
			family = v.Text
			break
		}
	}
	if family == "" {
		return "", time.Time{}, errors.New("the refresh token has neither a fam nor a jti claim: nothing names its family")
	}
	if v, ok := c.Get("exp"); ok && v.Kind == token.Number && v.Num > 0 && v.Num < 1<<53 {
		exp = time.Unix(int64(math.Ceil(v.Num)), 0)
	}
	return family, exp, nil
}

// configStorage is the storage of a configuration: its storage module, or Caddy's default
// (the file system under Caddy's data directory), as caddy storage export finds it.
func configStorage(ctx caddy.Context, cfgJSON []byte) (kv.Storage, error) {
	var cfg caddy.Config
	if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
		return nil, fmt.Errorf("reading the configuration: %v", err)
	}
	if cfg.StorageRaw == nil {
		return caddy.DefaultStorage, nil
	}
	v, err := ctx.LoadModule(&cfg, "StorageRaw")
	if err != nil {
		return nil, fmt.Errorf("loading the storage module: %v", err)
	}
	s, err := v.(caddy.StorageConverter).CertMagicStorage()
	if err != nil {
		return nil, fmt.Errorf("opening the storage: %v", err)
	}
	return s, nil
}

// findIssuer finds the settings of the issuer called name ("" when the configuration has one
// issuer only): a gatehouse global option's, or a jwt_issuer handler's inline settings.
func findIssuer(cfgJSON []byte, name string) (string, *IssuerConfig, error) {
	var cfg struct {
		Apps struct {
			Gatehouse struct {
				Issuers map[string]*IssuerConfig `json:"issuers"`
			} `json:"gatehouse"`
			HTTP json.RawMessage `json:"http"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
		return "", nil, fmt.Errorf("reading the configuration: %v", err)
	}
	found := map[string]*IssuerConfig{}
	for n, c := range cfg.Apps.Gatehouse.Issuers {
		if c != nil {
			found[n] = c
		}
	}
	var http any
	if len(cfg.Apps.HTTP) > 0 {
		d := json.NewDecoder(bytes.NewReader(cfg.Apps.HTTP))
		d.UseNumber() // claims keep every digit on their way to IssuerConfig
		if err := d.Decode(&http); err != nil {
			return "", nil, fmt.Errorf("reading the http app: %v", err)
		}
	}
	var walkErr error
	walkHandlers(http, func(h map[string]any) {
		if h["handler"] != "jwt_issuer" || walkErr != nil {
			return
		}
		b, _ := json.Marshal(h)
		var j JWTIssuer
		if err := json.Unmarshal(b, &j); err != nil {
			walkErr = fmt.Errorf("reading a jwt_issuer handler: %v", err)
			return
		}
		if n := j.issuerName(); j.hasSettings() && found[n] == nil {
			cfg := j.IssuerConfig
			found[n] = &cfg
		}
	})
	if walkErr != nil {
		return "", nil, walkErr
	}
	names := make([]string, 0, len(found))
	for n := range found {
		names = append(names, n)
	}
	slices.Sort(names)
	switch {
	case len(found) == 0:
		return "", nil, errors.New("the configuration has no jwt_issuer: nothing to revoke in (check --config)")
	case name == "" && len(found) > 1:
		return "", nil, fmt.Errorf("the configuration has several issuers; choose one with --issuer: %s", strings.Join(names, ", "))
	case name == "":
		return names[0], found[names[0]], nil
	case found[name] == nil:
		return "", nil, fmt.Errorf("the configuration has no issuer named %s; its issuers are: %s", name, strings.Join(names, ", "))
	}
	return name, found[name], nil
}

// walkHandlers calls f on every JSON object of v that has a "handler" member, at any depth
// (routes, subroutes, handle blocks, error routes, named routes).
func walkHandlers(v any, f func(map[string]any)) {
	switch v := v.(type) {
	case map[string]any:
		if _, ok := v["handler"].(string); ok {
			f(v)
		}
		for _, x := range v {
			walkHandlers(x, f)
		}
	case []any:
		for _, x := range v {
			walkHandlers(x, f)
		}
	}
}
