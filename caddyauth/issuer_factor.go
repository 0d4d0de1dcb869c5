package caddyauth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/gatehouse-dev/gatehouse/internal/factor"
	"github.com/gatehouse-dev/gatehouse/internal/kv"
	"github.com/gatehouse-dev/gatehouse/internal/users"
	"github.com/gatehouse-dev/gatehouse/issuer"
)

// IssuerSecondFactor turns on second factors: one-time codes (TOTP, RFC 6238) with recovery
// codes, enrolled from a browser session at <base>/factors and asked after the password, on the
// login page (<base>/login/verify) and in the JSON login's otp field. Tokens then carry amr
// ("pwd", "otp"), which jwt_auth's `require amr otp` can demand. Needs session.
type IssuerSecondFactor struct {
	// Who must use one: "required" (every user; one without a factor is sent to enrol one
	// after the password), "optional" (users who enrolled one must use it) or "off".
	Mode string `json:"mode"`
	// Per-user modes that win over mode, by exact username.
	Users map[string]string `json:"users,omitempty"`
	// The secret the keys that seal TOTP secrets at rest and sign login challenges are
	// derived from (HKDF-SHA256), at least 32 bytes; placeholders such as {env.FACTOR_SECRET}
	// are resolved at provision time. Default: a random secret generated on first start and
	// kept in the issuer's storage next to the factors (see docs/second-factor.md). Changing it
	// makes every enrolled factor unusable.
	Secret string `json:"secret,omitempty"`
	// The name authenticator apps show next to the account. Default: the issuer setting, else
	// "Gatehouse".
	Label string `json:"label,omitempty"`
	// Turns on passkeys (WebAuthn): registered from a session on the factors page, used
	// after the password, or alone (a discoverable passkey that verifies the user) on the
	// login page. Signing in with a passkey alone needs users_file or user (an app behind
	// credentials_url is asked about passwords only).
	Passkeys bool `json:"passkeys,omitempty"`
	// The passkeys' relying party id. Default: the session's cookie_domain when it has one (one
	// passkey for every site of the domain), else the host the browser used (a passkey works on
	// the site it was registered on). Set it to a parent domain shared by several sites of one
	// issuer to use one passkey on all of them.
	RPID string `json:"rp_id,omitempty"`
}

var factorModes = []string{string(factor.Required), string(factor.Optional), string(factor.Off)}

// validate checks the settings that can be checked without the environment.
func (sf *IssuerSecondFactor) validate(hasSession bool) error {
	if _, err := factor.ParseMode(sf.Mode); err != nil {
		return err
	}
	for name, m := range sf.Users {
		if name == "" {
			return errors.New("second_factor user: the name must not be empty")
		}
		if _, err := factor.ParseMode(m); err != nil {
			return fmt.Errorf("second_factor user %s: %w", name, err)
		}
	}
	if sf.Secret != "" && !hasPlaceholder(sf.Secret) && len(sf.Secret) < factor.MinSecretLen {
		return fmt.Errorf("second_factor secret must be at least %d bytes; use a random one, e.g. {env.FACTOR_SECRET}", factor.MinSecretLen)
	}
	if sf.RPID != "" && (strings.ContainsAny(sf.RPID, "/:@ ") || strings.Trim(sf.RPID, ".") != sf.RPID) {
		return fmt.Errorf("second_factor rp_id %q must be a host name such as example.com", sf.RPID)
	}
	if !hasSession {
		return errors.New("second_factor needs session: factors are enrolled and asked for on the login page")
	}
	return nil
}

// policy is the modes as the issuer uses them (validated).
func (sf *IssuerSecondFactor) policy() factor.Policy {
	p := factor.Policy{Default: factor.Mode(sf.Mode)}
	if len(sf.Users) > 0 {
		p.Users = make(map[string]factor.Mode, len(sf.Users))
		for name, m := range sf.Users {
			p.Users[name] = factor.Mode(m)
		}
	}
	return p
}

// openFactors opens the factor store of the issuer named name on its state storage.
func (c *IssuerConfig) openFactors(ctx context.Context, storage kv.Storage, name string, users users.Authenticator) (*issuer.FactorConfig, error) {
	sf := c.SecondFactor
	var secret []byte
	if sf.Secret != "" {
		s, err := resolveSecret(sf.Secret)
		if err != nil {
			return nil, fmt.Errorf("second_factor %w", err)
		}
		if len(s) < factor.MinSecretLen {
			return nil, fmt.Errorf("second_factor secret must be at least %d bytes (it has %d)", factor.MinSecretLen, len(s))
		}
		secret = []byte(s)
	}
	label := sf.Label
	if label == "" {
		label = c.Issuer
	}
	lctx, cancel := context.WithTimeout(ctx, provisionTimeout)
	defer cancel()
	st, err := factor.Open(lctx, factor.Config{Storage: storage, Prefix: storagePrefix(name), Secret: secret, Issuer: label})
	if err != nil {
		return nil, fmt.Errorf("second_factor: %w", err)
	}
	// Passkeys belong to the cookie domain when there is one, so that one registered on any
	// site of the domain signs in on the login site too; rp_id, when given, wins.
	rpID := sf.RPID
	if rpID == "" && c.Session != nil {
		rpID = c.Session.CookieDomain
	}
	fc := &issuer.FactorConfig{Store: st, Policy: sf.policy(), Passkeys: sf.Passkeys, RPID: strings.ToLower(rpID)}
	if dir, ok := users.(usersDirectory); ok {
		fc.Directory = dir
	}
	return fc, nil
}

// usersDirectory is users.Directory (Local users are one).
type usersDirectory = interface {
	Lookup(username string) (users.Identity, bool)
}

// parseSecondFactor parses
//
//	second_factor required|optional|off {
//	    user   <name> required|optional|off
//	    secret <secret>
//	    label  <name shown in apps>
//	    passkeys
//	    rp_id  <domain>
//	}
func parseSecondFactor(d *caddyfile.Dispenser) (*IssuerSecondFactor, error) {
	var mode string
	if !d.Args(&mode) {
		return nil, d.Errf("second_factor takes required, optional or off")
	}
	if d.NextArg() {
		return nil, takesErr(d, "jwt_issuer", "second_factor", 2+d.CountRemainingArgs())
	}
	if !slices.Contains(factorModes, mode) {
		return nil, d.Errf("second_factor %q is unknown; use required, optional or off", mode)
	}
	sf := &IssuerSecondFactor{Mode: mode}
	opts := newOptionBlock(d, "second_factor")
	for opts.next() {
		switch name := d.Val(); name {
		case "user":
			var user, m string
			if !d.AllArgs(&user, &m) || user == "" {
				return nil, d.Errf("second_factor user takes a username and required, optional or off, e.g. user alice required")
			}
			if !slices.Contains(factorModes, m) {
				return nil, d.Errf("second_factor user %s: %q is unknown; use required, optional or off", user, m)
			}
			if _, dup := sf.Users[user]; dup {
				return nil, d.Errf("second_factor user %s is set twice; keep one", user)
			}
			if sf.Users == nil {
				sf.Users = make(map[string]string)
			}
			sf.Users[user] = m
		case "secret":
			v, err := opts.single(name, func(v string) error {
				if v == "" || (!hasPlaceholder(v) && len(v) < factor.MinSecretLen) {
					return fmt.Errorf("second_factor secret must be at least %d bytes, e.g. {env.FACTOR_SECRET}", factor.MinSecretLen)
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
			sf.Secret = v
		case "passkeys":
			if err := opts.once(name); err != nil {
				return nil, err
			}
			if d.NextArg() {
				return nil, opts.argErr()
			}
			sf.Passkeys = true
		case "rp_id":
			v, err := opts.single(name, func(v string) error {
				return (&IssuerSecondFactor{Mode: "off", RPID: v}).validate(true)
			})
			if err != nil {
				return nil, err
			}
			sf.RPID = v
		case "label":
			v, err := opts.single(name, func(v string) error {
				if v == "" {
					return errors.New("second_factor label must not be empty")
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
			sf.Label = v
		default:
			return nil, opts.unknown()
		}
	}
	return sf, nil
}
