package caddyauth

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/gatehouse-dev/gatehouse/internal/httpsyntax"
	"github.com/gatehouse-dev/gatehouse/internal/keys"
	"github.com/gatehouse-dev/gatehouse/internal/verify"
)

// This file holds the configuration checks shared by Validate and the Caddyfile parser, so that a
// Caddyfile error carries its file:line and a JSON config gets the same message.

// Limits of the configuration.
const (
	minMaxTokenSize = 256
	maxMaxTokenSize = 1 << 20
	// minRefresh keeps a typo such as "refresh 1ms" from hammering the key server.
	minRefresh = time.Second
	// maxKeyFile caps the size of a PEM or JWK Set file read from disk.
	maxKeyFile = 1 << 20
)

// loadSecret resolves the secret's placeholders ({env.X}, {file./path}); a placeholder that is
// unknown or resolves to nothing is an error, never an empty or literal key.
func loadSecret(secret string) (*keys.Key, error) {
	s, err := resolveSecret(secret)
	if err != nil {
		return nil, err
	}
	// No origin: the messages of FromSecret already start with "secret".
	k, err := keys.FromSecret([]byte(s), "")
	if err != nil {
		return nil, err
	}
	k.Origin = "secret"
	return k, nil
}

// resolveSecret replaces the placeholders of a secret. The error names the placeholder only.
func resolveSecret(secret string) (string, error) {
	return resolvePlaceholders("secret", secret)
}

// resolvePlaceholders replaces the placeholders ({env.X}, {file./path}) of the value of setting.
// A placeholder that is unknown or resolves to nothing is an error that names the setting and
// the variable or file, and says what to do; it never quotes the value, which may be a secret.
func resolvePlaceholders(setting, value string) (string, error) {
	repl := caddy.NewReplacer()
	s, err := repl.ReplaceOrErr(value, true, true)
	if err == nil {
		return s, nil
	}
	for rest := value; ; {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			break
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			break
		}
		key := rest[open+1 : open+end]
		rest = rest[open+end+1:]
		if why := placeholderProblem(repl, key); why != "" {
			return "", fmt.Errorf("%s {%s}: %s", setting, key, why)
		}
	}
	return "", fmt.Errorf("%s: %v; set the environment variable or create the file it names", setting, err)
}

// placeholderProblem says why placeholder key gives no value, "" when it gives one.
func placeholderProblem(repl *caddy.Replacer, key string) string {
	if v, ok := repl.Get(key); ok && caddy.ToString(v) != "" {
		return ""
	}
	if name, ok := strings.CutPrefix(key, "env."); ok {
		if _, set := os.LookupEnv(name); !set {
			return fmt.Sprintf("the environment variable %s is not set; set it in Caddy's environment (e.g. its systemd unit), or use {file./path}", name)
		}
		return fmt.Sprintf("the environment variable %s is empty; give it the value", name)
	}
	if path, ok := strings.CutPrefix(key, "file."); ok {
		if _, err := os.Stat(path); err != nil {
			return fmt.Sprintf("the file %s cannot be read: %v", path, pathErr(err))
		}
		return fmt.Sprintf("the file %s is empty or cannot be read", path)
	}
	return fmt.Sprintf("unrecognized placeholder {%s}; use {env.NAME} or {file./path}", key)
}

// checkSecret checks a secret that is written out: its length, and that it is no empty value.
// A secret holding a placeholder ({env.X}, {file./path}) is checked when Provision resolves it,
// on the server that has the variable or the file: `caddy adapt` needs neither.
func checkSecret(secret string) error {
	if secret == "" {
		return errors.New("secret must not be empty; use at least 32 random bytes, e.g. {env.JWT_SECRET}")
	}
	if hasPlaceholder(secret) {
		return nil
	}
	_, err := keys.FromSecret([]byte(secret), "")
	return err
}

// hasPlaceholder reports whether s may hold a placeholder resolved at provision time.
func hasPlaceholder(s string) bool {
	return strings.ContainsAny(s, "{}")
}

// loadPEM reads and parses a public_key file.
func loadPEM(path string) (*keys.Key, error) {
	origin := "public_key " + path
	data, err := readKeyFile(origin, path)
	if err != nil {
		return nil, err
	}
	return keys.ParsePEM(data, origin)
}

// loadJWKS reads and parses a jwks_file; skipped are its keys that are not used, and why.
func loadJWKS(path string) (ks []*keys.Key, skipped []keys.Skipped, err error) {
	origin := "jwks_file " + path
	data, err := readKeyFile(origin, path)
	if err != nil {
		return nil, nil, err
	}
	return keys.ParseJWKSReport(data, origin)
}

// checkFileName refuses an empty file name, always a quoting mistake; whether the file exists
// is for Provision to find out, on the server that has it.
func checkFileName(setting, path string) error {
	if path == "" {
		return fmt.Errorf("%s: the file name must not be empty", setting)
	}
	return nil
}

// readKeyFile reads a key file of at most maxKeyFile bytes.
func readKeyFile(origin, path string) ([]byte, error) {
	if err := checkFileName(strings.TrimSpace(origin), path); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: cannot read the file: %v", origin, pathErr(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: cannot read the file: %v", origin, pathErr(err))
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("%s: the file is larger than %d bytes; is it the right file?", origin, maxKeyFile)
	}
	return data, nil
}

// sourceError is an error of a handler's configuration, placed where it was written.
type sourceError struct {
	source string
	err    error
}

func (e *sourceError) Error() string { return e.source + ": " + e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

// withSource prefixes err with source, where the configuration was written ("Caddyfile:12", set
// by the Caddyfile adapter), so that a file or secret Provision cannot load is reported at its
// directive. An error already placed keeps its place: a jwt_issuer serving an issuer of the
// gatehouse global option reports that issuer's mistakes at the option.
func withSource(source string, err error) error {
	var se *sourceError
	if err == nil || source == "" || errors.As(err, &se) {
		return err
	}
	return &sourceError{source: source, err: err}
}

// pathErr drops the path from an *fs.PathError, which the caller's message already names.
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// checkJWKSURL validates a jwks_url the way the fetcher will, without fetching it.
func checkJWKSURL(url string, refresh time.Duration) error {
	if refresh != 0 && refresh < minRefresh {
		return fmt.Errorf("jwks_url %s: refresh %s is too short; use at least %s (default %s)", url, refresh, minRefresh, keys.DefaultRefresh)
	}
	r, err := keys.NewRemote(keys.RemoteOptions{URL: url, Refresh: refresh})
	if err != nil {
		return err
	}
	r.Stop() // never started: this only releases its context
	return nil
}

func checkLeeway(d time.Duration) error {
	if d < 0 || d > verify.MaxLeeway {
		return fmt.Errorf("leeway %s is out of range; use a duration from 0 to %s", d, verify.MaxLeeway)
	}
	return nil
}

// maxCacheSize bounds cache_size: with tokens of up to 8 KiB, a million entries is already
// gigabytes, more than any single handler should hold.
const maxCacheSize = 1_000_000

// checkCacheSize accepts -1 (off), 0 (the default) and 1..maxCacheSize.
func checkCacheSize(n int) error {
	if n < -1 || n > maxCacheSize {
		return fmt.Errorf("cache_size %d is out of range; use a number of tokens from 1 to %d, or off", n, maxCacheSize)
	}
	return nil
}

func checkMaxTokenSize(n int) error {
	if n < minMaxTokenSize || n > maxMaxTokenSize {
		return fmt.Errorf("max_token_size %d is out of range; use a number of bytes from %d to %d (default %d)",
			n, minMaxTokenSize, maxMaxTokenSize, verify.DefaultMaxTokenSize)
	}
	return nil
}

func checkTokenType(v string) error {
	if v == verify.TokenTypeDefault || v == verify.TokenTypeOff {
		return nil
	}
	if len(v) > 256 || !printable(v) {
		return fmt.Errorf("token_type must be off or the expected value of the token_type claim (printable text, at most 256 bytes)")
	}
	return nil
}

// checkRealm allows what RFC 6750 §3 allows in a quoted auth-param that is never escaped.
func checkRealm(realm string) error {
	if !printable(realm) || strings.ContainsAny(realm, `"\`) {
		return fmt.Errorf("realm %q must be printable ASCII without quotes or backslashes", realm)
	}
	return nil
}

func checkSource(s TokenSource) error {
	switch s.From {
	case verify.FromHeader:
		if err := checkHeaderName("from_header", s.Name); err != nil {
			return err
		}
		for _, sc := range s.Schemes {
			if !httpsyntax.IsToken(sc) {
				return fmt.Errorf("from_header %s: scheme %q is not a valid auth scheme (e.g. Bearer)", s.Name, sc)
			}
		}
	case verify.FromCookie, verify.FromQuery:
		if !httpsyntax.IsToken(s.Name) {
			return fmt.Errorf("from_%s %q: the name must be a non-empty token (letters, digits and !#$%%&'*+-.^_`|~)", s.From, s.Name)
		}
		if len(s.Schemes) > 0 {
			return fmt.Errorf("from_%s %s: schemes are only for headers", s.From, s.Name)
		}
	default:
		return fmt.Errorf("token source %q is unknown; use header, cookie or query", s.From)
	}
	return nil
}

func checkForward(fc ForwardClaim, sources []TokenSource) error {
	if fc.Claim == "" {
		return errors.New("forward_claim: the claim name must not be empty")
	}
	if err := checkHeaderName("forward_claim "+fc.Claim, fc.Header); err != nil {
		return err
	}
	h := http.CanonicalHeaderKey(fc.Header)
	for _, r := range verify.ReservedHeaders {
		if h == r {
			return fmt.Errorf("forward_claim %s: header %s cannot carry a claim; choose another name, e.g. X-User-Id", fc.Claim, h)
		}
	}
	// The header is deleted from every request before the token is read, so it cannot also be
	// where the token comes from.
	for _, s := range sources {
		if s.From == verify.FromHeader && http.CanonicalHeaderKey(s.Name) == h {
			return fmt.Errorf("forward_claim %s: header %s is also a token source (from_header); choose another name", fc.Claim, h)
		}
	}
	return nil
}

// checkNonEmpty refuses an empty value among a setting's values: an empty issuer, audience or
// claim name matches nothing a verifier should accept, and is always a quoting mistake.
func checkNonEmpty(setting string, values []string) error {
	for _, v := range values {
		if v == "" {
			return fmt.Errorf("%s: a value must not be empty", setting)
		}
	}
	return nil
}

func checkRequirement(rq Requirement) error {
	return verify.CheckRequirement(verify.Requirement{Claim: rq.Claim, Values: rq.Values})
}

// checkHeaderName accepts an HTTP field name (RFC 9110 §5.1: a token).
func checkHeaderName(directive, name string) error {
	if !httpsyntax.IsToken(name) {
		return fmt.Errorf("%s: %q is not a valid header name (letters, digits and !#$%%&'*+-.^_`|~; no spaces or colons)", directive, name)
	}
	return nil
}

// printable reports whether s is non-empty printable ASCII (spaces allowed).
func printable(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
