package gatehouse

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/httpsyntax"
	"github.com/gatehouse-dev/gatehouse/internal/keys"
	"github.com/gatehouse-dev/gatehouse/internal/verify"
)

// Config is the plugin's configuration. Traefik fills it from the dynamic configuration (file,
// Docker labels, Kubernetes Middleware) with mapstructure, which matches keys to field names
// case-insensitively: the keys are written as the json tags say (lowerCamelCase). A list may
// also be given as one comma-separated string, as Docker labels give it.
type Config struct {
	// Secret is an HMAC key for HS256/384/512: at least 32 bytes (48 for HS384, 64 for HS512).
	Secret string `json:"secret,omitempty"`
	// SecretFile is a file holding the HMAC key (surrounding white space is trimmed), so that
	// the key need not be in the configuration.
	SecretFile string `json:"secretFile,omitempty"`
	// PublicKeys are SPKI public keys written out in PEM ("-----BEGIN PUBLIC KEY-----...").
	PublicKeys []string `json:"publicKeys,omitempty"`
	// PublicKeyFiles are PEM files of SPKI public keys.
	PublicKeyFiles []string `json:"publicKeyFiles,omitempty"`
	// JwksFile are JWK Set files.
	JwksFile []string `json:"jwksFile,omitempty"`
	// JwksURL are remote JWK Sets: https, or http to a loopback host. Fetched in the background,
	// every JwksRefresh and when a token names an unknown kid; the last good set is kept when a
	// fetch fails.
	JwksURL []string `json:"jwksUrl,omitempty"`
	// JwksRefresh is the time between two fetches of each jwksUrl (a Go duration, default 1h).
	JwksRefresh string `json:"jwksRefresh,omitempty"`
	// Algorithms is an allow-list of JWS algorithms; default: whatever the keys support.
	Algorithms []string `json:"algorithms,omitempty"`
	// Issuer, when set, makes iss required and one of these.
	Issuer []string `json:"issuer,omitempty"`
	// Audience, when set, makes aud required and (one of its values) one of these.
	Audience []string `json:"audience,omitempty"`
	// Leeway is the clock skew allowed for exp, nbf and iat: a Go duration ("30s") or a number
	// of seconds, at most 5m. Default 60s.
	Leeway string `json:"leeway,omitempty"`
	// TokenType is the token_type rule: "" (a token_type claim, when present, must be access),
	// "off", or the value the claim must have.
	TokenType string `json:"tokenType,omitempty"`
	// Typ, when set, makes the JOSE header typ required and one of these media types (at+jwt).
	Typ []string `json:"typ,omitempty"`
	// Require maps a claim to the values it may have (an array claim must contain one; scope and
	// scp are space-separated lists); every claim listed must match, else 403.
	Require map[string][]string `json:"require,omitempty"`
	// Headers maps a claim to the request header that carries its value to the service. A
	// client-sent copy of each header is always removed.
	Headers map[string]string `json:"headers,omitempty"`
	// FromHeader are the headers the token is read from, each "Name" (the whole value is the
	// token) or "Name Scheme..." (e.g. "Authorization Bearer"). Default: Authorization Bearer,
	// unless fromCookie or fromQuery is set.
	FromHeader []string `json:"fromHeader,omitempty"`
	// FromCookie are cookies the token is read from.
	FromCookie []string `json:"fromCookie,omitempty"`
	// FromQuery are query parameters the token is read from; they are removed from the request
	// that goes on.
	FromQuery []string `json:"fromQuery,omitempty"`
	// Optional lets a request without a token through, without identity headers; a bad token is
	// still refused.
	Optional bool `json:"optional,omitempty"`
	// MaxTokenSize caps the token length in bytes (default 8192).
	MaxTokenSize int `json:"maxTokenSize,omitempty"`
	// CacheSize is how many verified tokens are remembered (default 10000; -1 turns it off).
	CacheSize int `json:"cacheSize,omitempty"`
	// Realm is the WWW-Authenticate realm (default api).
	Realm string `json:"realm,omitempty"`

	// Unknown collects the keys that are none of the above, so that a misspelt key ("issuers")
	// stops the middleware instead of silently dropping a check.
	Unknown map[string]interface{} `json:"-" mapstructure:",remain"`
}

// CreateConfig returns the default configuration; Traefik calls it before decoding the
// middleware's options into it.
func CreateConfig() *Config {
	return &Config{}
}

// keyNames are the configuration keys, for the message about an unknown one.
var keyNames = "secret, secretFile, publicKeys, publicKeyFiles, jwksFile, jwksUrl, jwksRefresh, algorithms, " +
	"issuer, audience, leeway, tokenType, typ, require, headers, fromHeader, fromCookie, fromQuery, optional, " +
	"maxTokenSize, cacheSize, realm"

// maxKeyFile caps the size of a key file read from disk.
const maxKeyFile = 1 << 20

// minRefresh keeps a typo such as "1ms" from hammering the key server.
const minRefresh = time.Second

// maxCacheSize bounds cacheSize, as jwt_auth's cache_size.
const maxCacheSize = 1000000

// setup is what New builds from a Config.
type setup struct {
	verifier   *verify.Verifier
	extractor  verify.Extractor
	challenges verify.Challenges
	forward    []forward // claim -> header, in a fixed order
	headers    []string  // the forwarded headers, canonical, removed from every request
	optional   bool
}

type forward struct{ claim, header string }

// build checks c and makes the verifier, naming the key at fault in every error.
func (c *Config) build(name string) (*setup, error) {
	if len(c.Unknown) > 0 {
		var names []string
		for k := range c.Unknown {
			names = append(names, k)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("unknown key %s; the keys are: %s", strings.Join(names, ", "), keyNames)
	}
	for _, l := range []struct {
		key    string
		values []string
	}{
		{"publicKeys", c.PublicKeys}, {"publicKeyFiles", c.PublicKeyFiles}, {"jwksFile", c.JwksFile},
		{"jwksUrl", c.JwksURL}, {"algorithms", c.Algorithms}, {"issuer", c.Issuer}, {"audience", c.Audience},
		{"typ", c.Typ}, {"fromHeader", c.FromHeader}, {"fromCookie", c.FromCookie}, {"fromQuery", c.FromQuery},
	} {
		for i, v := range l.values {
			if strings.TrimSpace(v) == "" {
				return nil, fmt.Errorf("%s[%d]: a value must not be empty", l.key, i)
			}
		}
	}
	if err := keys.CheckAlgorithms(c.Algorithms); err != nil {
		return nil, fmt.Errorf("algorithms: %v", err)
	}

	provider, err := c.keys(name)
	if err != nil {
		return nil, err
	}

	leeway := verify.DefaultLeeway
	if c.Leeway != "" {
		if leeway, err = parseDuration(c.Leeway); err != nil || leeway < 0 || leeway > verify.MaxLeeway {
			return nil, fmt.Errorf("leeway %q: use a duration from 0 to %s, such as 30s (a bare number is seconds)", c.Leeway, verify.MaxLeeway)
		}
	}
	if c.TokenType != verify.TokenTypeDefault && c.TokenType != verify.TokenTypeOff && (len(c.TokenType) > 256 || !printable(c.TokenType)) {
		return nil, errors.New("tokenType: use off or the expected value of the token_type claim (printable text, at most 256 bytes)")
	}
	if c.CacheSize < -1 || c.CacheSize > maxCacheSize {
		return nil, fmt.Errorf("cacheSize %d: use a number of tokens from 1 to %d, 0 for the default (%d) or -1 for none", c.CacheSize, maxCacheSize, verify.DefaultCacheSize)
	}
	if c.MaxTokenSize != 0 && (c.MaxTokenSize < 256 || c.MaxTokenSize > 1<<20) {
		return nil, fmt.Errorf("maxTokenSize %d: use a number of bytes from 256 to %d (default %d)", c.MaxTokenSize, 1<<20, verify.DefaultMaxTokenSize)
	}
	realm := c.Realm
	if realm == "" {
		realm = "api"
	}
	if !printable(realm) || !verify.RealmOK(realm) {
		return nil, fmt.Errorf("realm %q: use printable ASCII without quotes or backslashes", realm)
	}

	s := &setup{challenges: verify.NewChallenges(realm), optional: c.Optional}
	if s.extractor, err = c.sources(); err != nil {
		return nil, err
	}
	policy := verify.Policy{
		Algorithms:   c.Algorithms,
		Issuers:      c.Issuer,
		Audiences:    c.Audience,
		Leeway:       leeway,
		TokenType:    c.TokenType,
		Types:        c.Typ,
		MaxTokenSize: c.MaxTokenSize,
		CacheSize:    c.CacheSize,
	}
	claims := make([]string, 0, len(c.Require))
	for claim := range c.Require {
		claims = append(claims, claim)
	}
	sort.Strings(claims)
	for _, claim := range claims {
		rq := verify.Requirement{Claim: claim, Values: c.Require[claim]}
		if err := verify.CheckRequirement(rq); err != nil {
			return nil, fmt.Errorf("require: %v", err)
		}
		policy.Require = append(policy.Require, rq)
	}
	if err := verify.CheckTypes(c.Typ); err != nil {
		return nil, fmt.Errorf("typ: %v", err)
	}
	claims = claims[:0]
	for claim := range c.Headers {
		claims = append(claims, claim)
	}
	sort.Strings(claims)
	for _, claim := range claims {
		h, err := c.forwardHeader(claim, s.extractor)
		if err != nil {
			return nil, err
		}
		for _, f := range s.forward {
			if f.header == h {
				return nil, fmt.Errorf("headers: claims %s and %s both go to header %s; give each its own", f.claim, claim, h)
			}
		}
		s.forward = append(s.forward, forward{claim: claim, header: h})
		s.headers = append(s.headers, h)
		// A forwarded value must be header-safe: a token whose value is not is refused.
		policy.SafeClaims = append(policy.SafeClaims, claim)
	}
	if s.verifier, err = verify.New(policy, provider, nil); err != nil {
		return nil, err
	}
	return s, nil
}

// keys loads the configured keys: a static set and the remote JWK Sets.
func (c *Config) keys(name string) (keys.Provider, error) {
	var static []*keys.Key
	add := func(key string, group ...*keys.Key) error {
		if len(c.Algorithms) > 0 {
			if _, err := keys.Restrict(group, c.Algorithms); err != nil {
				return fmt.Errorf("%s: %v; add the key's algorithm to algorithms or remove the key", key, err)
			}
		}
		static = append(static, group...)
		return nil
	}
	if c.Secret != "" && c.SecretFile != "" {
		return nil, errors.New("secret and secretFile: set one of them")
	}
	if c.Secret != "" || c.SecretFile != "" {
		key, secret := "secret", c.Secret
		if c.SecretFile != "" {
			key = "secretFile " + c.SecretFile
			data, err := readKeyFile(key, c.SecretFile)
			if err != nil {
				return nil, err
			}
			secret = strings.TrimSpace(string(data))
		}
		// FromSecret's messages start with "secret"; a secretFile's get its name in front.
		k, err := keys.FromSecret([]byte(secret), "")
		if err != nil {
			if c.SecretFile != "" {
				return nil, fmt.Errorf("%s: %v", key, err)
			}
			return nil, err
		}
		k.Origin = "secret"
		if err := add(key, k); err != nil {
			return nil, err
		}
	}
	for i, pem := range c.PublicKeys {
		key := "publicKeys[" + strconv.Itoa(i) + "]"
		k, err := keys.ParsePEM([]byte(pem), key)
		if err != nil {
			return nil, err
		}
		if err := add(key, k); err != nil {
			return nil, err
		}
	}
	for _, path := range c.PublicKeyFiles {
		key := "publicKeyFiles " + path
		data, err := readKeyFile(key, path)
		if err != nil {
			return nil, err
		}
		k, err := keys.ParsePEM(data, key)
		if err != nil {
			return nil, err
		}
		if err := add(key, k); err != nil {
			return nil, err
		}
	}
	for _, path := range c.JwksFile {
		key := "jwksFile " + path
		data, err := readKeyFile(key, path)
		if err != nil {
			return nil, err
		}
		ks, err := keys.ParseJWKS(data, key)
		if err != nil {
			return nil, err
		}
		if err := add(key, ks...); err != nil {
			return nil, err
		}
	}
	if len(c.Algorithms) > 0 && len(static) > 0 {
		var err error
		if static, err = keys.Restrict(static, c.Algorithms); err != nil {
			return nil, fmt.Errorf("algorithms: %v", err)
		}
	}

	var providers []keys.Provider
	if len(static) > 0 {
		providers = append(providers, keys.Static{Set: keys.NewSet(static...)})
	}
	refresh := time.Duration(0)
	if c.JwksRefresh != "" {
		var err error
		if refresh, err = parseDuration(c.JwksRefresh); err != nil || refresh < minRefresh {
			return nil, fmt.Errorf("jwksRefresh %q: use a duration of at least %s, such as 1h (the default)", c.JwksRefresh, minRefresh)
		}
	}
	for _, u := range c.JwksURL {
		r, err := sharedRemote(u, refresh, c.Algorithms, name)
		if err != nil {
			return nil, errors.New(strings.Replace(err.Error(), "jwks_url", "jwksUrl", 1))
		}
		providers = append(providers, r)
	}
	if len(providers) == 0 {
		return nil, errors.New("no keys: set secret, secretFile, publicKeys, publicKeyFiles, jwksFile or jwksUrl")
	}
	return keys.NewMulti(providers...), nil
}

// sources builds the token extractor from fromHeader, fromCookie and fromQuery.
func (c *Config) sources() (verify.Extractor, error) {
	var e verify.Extractor
	for _, h := range c.FromHeader {
		f := strings.Fields(h)
		if !httpsyntax.IsToken(f[0]) {
			return e, fmt.Errorf("fromHeader %q: %q is not a valid header name", h, f[0])
		}
		for _, sc := range f[1:] {
			if !httpsyntax.IsToken(sc) {
				return e, fmt.Errorf("fromHeader %q: %q is not a valid auth scheme (e.g. Bearer)", h, sc)
			}
		}
		e.Sources = append(e.Sources, verify.Source{From: verify.FromHeader, Name: f[0], Schemes: f[1:]})
	}
	for _, l := range []struct {
		key, from string
		names     []string
	}{{"fromCookie", verify.FromCookie, c.FromCookie}, {"fromQuery", verify.FromQuery, c.FromQuery}} {
		for _, n := range l.names {
			if !httpsyntax.IsToken(n) {
				return e, fmt.Errorf("%s %q: the name must be a token (letters, digits and !#$%%&'*+-.^_`|~)", l.key, n)
			}
			e.Sources = append(e.Sources, verify.Source{From: l.from, Name: n})
		}
	}
	return e, nil
}

// forwardHeader checks the header that claim goes to and returns its canonical name.
func (c *Config) forwardHeader(claim string, e verify.Extractor) (string, error) {
	name := c.Headers[claim]
	if claim == "" {
		return "", errors.New("headers: a claim name must not be empty")
	}
	if !httpsyntax.IsToken(name) {
		return "", fmt.Errorf("headers %s: %q is not a valid header name", claim, name)
	}
	h := http.CanonicalHeaderKey(name)
	for _, r := range verify.ReservedHeaders {
		if h == r {
			return "", fmt.Errorf("headers %s: header %s cannot carry a claim; choose another name, e.g. X-User-Id", claim, h)
		}
	}
	sources := e.Sources
	if len(sources) == 0 {
		sources = verify.DefaultSources
	}
	// The header is removed from every request before the token is read, so it cannot also be
	// where the token comes from.
	for _, s := range sources {
		if s.From == verify.FromHeader && http.CanonicalHeaderKey(s.Name) == h {
			return "", fmt.Errorf("headers %s: header %s is also in fromHeader; choose another name", claim, h)
		}
	}
	return h, nil
}

// parseDuration reads a Go duration, or a bare number of seconds (what a number in YAML or a
// label becomes).
func parseDuration(s string) (time.Duration, error) {
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	return time.ParseDuration(s)
}

// readKeyFile reads a key file of at most maxKeyFile bytes; key names the setting in errors.
func readKeyFile(key, path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: cannot read the file: %v", key, pathErr(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: cannot read the file: %v", key, pathErr(err))
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("%s: the file is larger than %d bytes; is it the right file?", key, maxKeyFile)
	}
	return data, nil
}

// pathErr drops the path from an *os.PathError, which the message already names.
func pathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
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
