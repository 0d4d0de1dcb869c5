package verify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/keys"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// Bounds of Policy.MaxTokenSize. Below 256 bytes not even a minimal signed token fits; above
// 1 MiB the cap no longer protects anything.
const (
	minMaxTokenSize = 256
	maxMaxTokenSize = 1 << 20
)

// candidateBuf is how many candidate keys Verify can collect without allocating; a set has one
// key per kid in practice, plus the keys without an id.
const candidateBuf = 8

// The claims Verify reads on every token are picked up by the validating scan of the payload
// ((*token.JWS).Watch), so that the claim set's members are only built when something else asks
// for them. These are their indexes in Verifier.watch; the policy's SafeClaims follow.
const (
	watchExp = iota
	watchNbf
	watchIat
	watchTokenType
	watchSafe // the first of the SafeClaims
)

// watchBuf is how many watched claims Verify can hold without allocating: the four above, the
// default user claims (sub, user_id) and two more.
const watchBuf = 8

// Verifier checks tokens against a Policy with keys from a Provider. It is safe for concurrent use.
type Verifier struct {
	policy Policy
	keys   keys.Provider
	now    func() time.Time

	// Precomputed from policy and keys by New, so that Verify only compares.
	refresher            keys.Refresher // keys as a Refresher, nil when it cannot refresh
	cache                *tokenCache    // verified tokens; nil when caching is off
	maxSize              int            // policy.MaxTokenSize with the default applied
	leeway               float64        // policy.Leeway in seconds, the unit of NumericDate
	algDesc              string         // description of an alg refusal
	types                []string       // policy.Types as mediaType forms; nil when typ is not checked
	typMissing, typWrong string         // descriptions of typ refusals
	watch                []string       // the claims Verify reads on every token, see watchExp
}

// New validates the policy (known algorithms only, never none; leeway within MaxLeeway) and
// returns a Verifier. now may be nil (time.Now).
func New(p Policy, kp keys.Provider, now func() time.Time) (*Verifier, error) {
	if kp == nil {
		return nil, errors.New("verify: no key provider; configure a secret, a public key or a JWK Set")
	}
	if err := keys.CheckAlgorithms(p.Algorithms); err != nil {
		return nil, err
	}
	if p.Leeway < 0 || p.Leeway > MaxLeeway {
		return nil, fmt.Errorf("leeway %s is out of range; use a duration from 0 to %s", p.Leeway, MaxLeeway)
	}
	if p.CacheSize < -1 {
		return nil, fmt.Errorf("cache size %d is out of range; use a number of entries, 0 for the default (%d) or -1 for no cache",
			p.CacheSize, DefaultCacheSize)
	}
	if p.MaxTokenSize == 0 {
		p.MaxTokenSize = DefaultMaxTokenSize
	}
	if p.MaxTokenSize < minMaxTokenSize || p.MaxTokenSize > maxMaxTokenSize {
		return nil, fmt.Errorf("max token size %d is out of range; use a number of bytes from %d to %d (default %d)",
			p.MaxTokenSize, minMaxTokenSize, maxMaxTokenSize, DefaultMaxTokenSize)
	}
	if slices.Contains(p.Issuers, "") {
		return nil, errors.New("issuers must not contain an empty value")
	}
	if slices.Contains(p.Audiences, "") {
		return nil, errors.New("audiences must not contain an empty value")
	}
	for _, rq := range p.Require {
		if err := CheckRequirement(rq); err != nil {
			return nil, err
		}
	}
	if err := CheckTypes(p.Types); err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}

	// The Verifier keeps its own copies: the caller's slices could change after New. (Copied by
	// append rather than slices.Clone, which Traefik's interpreter, Yaegi, cannot instantiate.)
	p.Algorithms = compact(p.Algorithms)
	p.Issuers = append([]string(nil), p.Issuers...)
	p.Audiences = append([]string(nil), p.Audiences...)
	p.SafeClaims = append([]string(nil), p.SafeClaims...)
	p.Require = append([]Requirement(nil), p.Require...)
	for i := range p.Require {
		p.Require[i].Values = append([]string(nil), p.Require[i].Values...)
	}
	p.Types = append([]string(nil), p.Types...)

	v := &Verifier{
		policy:  p,
		keys:    kp,
		now:     now,
		maxSize: p.MaxTokenSize,
		leeway:  p.Leeway.Seconds(),
		algDesc: "token alg is not supported (algorithm names are case-sensitive; none is never accepted)",
	}
	if len(p.Algorithms) > 0 {
		v.algDesc = "token alg is not one of the allowed algorithms: " + strings.Join(p.Algorithms, ", ")
	}
	if len(p.Types) > 0 {
		for _, t := range p.Types {
			if mt := mediaType(t); !slices.Contains(v.types, mt) {
				v.types = append(v.types, mt)
			}
		}
		list := strings.Join(p.Types, ", ")
		v.typMissing = "token header has no typ; the accepted types are: " + list
		v.typWrong = "token header typ is not one of the accepted types: " + list
	}
	v.watch = append([]string{watchExp: "exp", watchNbf: "nbf", watchIat: "iat", watchTokenType: "token_type"},
		p.SafeClaims...)
	v.refresher, _ = kp.(keys.Refresher)
	v.cache = newTokenCache(p.CacheSize)
	return v, nil
}

// CacheStats returns the counts of the verified-token cache; ok is false when the cache is off
// (Policy.CacheSize -1). Reading them takes each shard's read lock briefly, so call it when
// metrics are scraped, not per request.
func (v *Verifier) CacheStats() (st CacheStats, ok bool) {
	if v.cache == nil {
		return CacheStats{}, false
	}
	return v.cache.stats(), true
}

// compact returns a copy of algs without repeats, nil when algs is empty.
func compact(algs []string) []string {
	var out []string
	for _, a := range algs {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// Verify checks raw, in this order, so hostile input costs as little as possible: size, split
// and header, alg allow-list, crit and typ, key selection by kid (a refresh of a remote set on an
// unknown kid, bounded by ctx), signature, then claims (decoded only after the signature
// matched): exp/nbf/iat with leeway, iss, aud, token_type, safe header values, requirements.
// Every refusal is an *Error.
//
// A token that passed is kept in the Verifier's cache (see cache.go); a repeat is answered from
// it after the size check, with the time checks and the key set checked again. The returned
// Claims may therefore be shared between requests and must not be modified.
func (v *Verifier) Verify(ctx context.Context, raw string) (*token.Claims, error) {
	if len(raw) > v.maxSize {
		return nil, refuse(ReasonTooLarge, "token is longer than the configured max_token_size")
	}
	if raw == "" {
		return nil, refuse(ReasonMalformed, "token is empty")
	}
	now := v.clock()
	var h uint64 // raw's key in the cache, computed once for the lookup and the insertion
	if v.cache != nil {
		h = v.cache.hash(raw)
		if c, ok := v.cache.lookup(h, raw, v.keys.Current(), now); ok {
			return c, nil
		}
	}
	return v.verify(ctx, raw, now, h)
}

// verify is Verify after a cache miss: the full verification, whose buffers are kept out of
// Verify's frame so that a cache hit does not pay for them (Traefik's interpreter, Yaegi,
// allocates a function's whole frame on every call).
func (v *Verifier) verify(ctx context.Context, raw string, now float64, h uint64) (*token.Claims, error) {
	j, err := token.Split(raw)
	if err != nil {
		// The token package's errors are fixed texts that never echo token content.
		return nil, refuse(ReasonMalformed, err.Error())
	}
	alg := j.Header.Alg
	if !v.algAllowed(alg) {
		return nil, refuse(ReasonAlgorithm, v.algDesc)
	}
	if j.Header.Crit {
		return nil, refuse(ReasonCrit, "token header has crit; no JWS extension is understood (RFC 7515 section 4.1.11)")
	}
	// typ is covered by the signature; checking it first only refuses a wrong kind of token
	// (an ID token where an access token is wanted) before any key is looked for.
	if v.types != nil && !typAccepted(v.types, j.Header.Typ) {
		if j.Header.Typ == "" {
			return nil, refuse(ReasonTokenType, v.typMissing)
		}
		return nil, refuse(ReasonTokenType, v.typWrong)
	}

	var buf [candidateBuf]*keys.Key
	set, cands, e := v.candidates(ctx, buf[:0], j.Header.Kid, alg)
	if e != nil {
		return nil, e
	}
	verified := false
	for _, k := range cands {
		if k.Verify(alg, j.SigningInput, j.Signature) == nil {
			verified = true
			break
		}
	}
	if !verified {
		return nil, refuse(ReasonSignature, "token signature does not verify with any configured key")
	}

	var wbuf [watchBuf]token.Value
	var w watched
	if len(v.watch) <= len(wbuf) {
		w = wbuf[:len(v.watch)]
	} else {
		w = make(watched, len(v.watch))
	}
	c, err := j.Watch(v.watch, w)
	if err != nil {
		return nil, refuse(ReasonClaims, err.Error())
	}
	if e := v.checkClaims(c, w, now); e != nil {
		return nil, e
	}
	if v.cache != nil {
		notBefore, notAfter := v.window(w)
		v.cache.add(h, raw, c, set, notBefore, notAfter)
	}
	return c, nil
}

// clock returns the time as float seconds, the unit of NumericDate (which allows fractions).
func (v *Verifier) clock() float64 {
	t := v.now()
	return float64(t.Unix()) + float64(t.Nanosecond())/1e9
}

// window returns the times between which claims that passed checkTime keep passing it:
// notBefore is the later of nbf and iat less the leeway, notAfter is exp plus the leeway.
func (v *Verifier) window(w watched) (notBefore, notAfter float64) {
	notAfter = w[watchExp].Num + v.leeway // present and a number: checkTime passed
	notBefore = -1 << 62
	for _, i := range [...]int{watchNbf, watchIat} {
		if t, ok := w.get(i); ok {
			notBefore = max(notBefore, t.Num-v.leeway)
		}
	}
	return notBefore, notAfter
}

// watched holds the values of v.watch's claims for one token, by index; a claim the token does
// not have is a zero Value.
type watched []token.Value

func (w watched) get(i int) (token.Value, bool) {
	return w[i], w[i].Kind != 0
}

// algAllowed reports whether alg is allowed: one of the policy's algorithms (which New checked
// are supported; EdDSA and Ed25519 admit each other, see keys.Permitted) or, without an
// allow-list, any algorithm Gatehouse supports. Both comparisons are exact otherwise, so no
// spelling of none and no case variant of a real name passes.
func (v *Verifier) algAllowed(alg string) bool {
	if len(v.policy.Algorithms) > 0 {
		return keys.Permitted(v.policy.Algorithms, alg)
	}
	one := [1]string{alg}
	return keys.CheckAlgorithms(one[:]) == nil
}

// candidates appends to dst the keys that may verify a token with kid and alg, and returns the
// set they come from. A kid that no loaded key has makes a refreshable provider fetch again
// (once, bounded by ctx and by the provider's own wait and backoff, see keys.RemoteOptions): the
// issuer may have rotated its keys since the last fetch.
func (v *Verifier) candidates(ctx context.Context, dst []*keys.Key, kid, alg string) (*keys.Set, []*keys.Key, *Error) {
	set := v.keys.Current()
	if set.Len() == 0 {
		return nil, nil, refuse(ReasonNoKeys, "no verification keys are loaded")
	}
	cands := set.Candidates(dst, kid, alg)
	if len(cands) == 0 && kid != "" && !set.HasID(kid) && v.refresher != nil {
		if ctx == nil {
			ctx = context.Background()
		}
		v.refresher.RefreshFor(ctx, kid)
		// Whether or not this call loaded the set, a concurrent refresh may have.
		set = v.keys.Current()
		cands = set.Candidates(dst, kid, alg)
	}
	if len(cands) == 0 {
		if kid != "" {
			return nil, nil, refuse(ReasonUnknownKey, "no configured key has the token's kid and allows its alg")
		}
		return nil, nil, refuse(ReasonUnknownKey, "no configured key allows the token's alg")
	}
	return set, cands, nil
}

// checkClaims applies the policy to verified claims, with w the values of v.watch. The
// descriptions name claims, never values.
func (v *Verifier) checkClaims(c *token.Claims, w watched, now float64) *Error {
	if e := v.checkTime(w, now); e != nil {
		return e
	}
	if len(v.policy.Issuers) > 0 {
		iss, ok := c.Get("iss")
		switch {
		case !ok:
			return refuse(ReasonIssuer, "token has no iss; an issuer is required")
		case iss.Kind != token.String:
			return refuse(ReasonIssuer, "iss must be a string")
		case !slices.Contains(v.policy.Issuers, iss.Text):
			return refuse(ReasonIssuer, "iss is not an accepted issuer")
		}
	}
	if len(v.policy.Audiences) > 0 {
		if e := v.checkAudience(c); e != nil {
			return e
		}
	}
	if e := v.checkTokenType(w); e != nil {
		return e
	}
	for i, name := range v.policy.SafeClaims {
		if val, ok := w.get(watchSafe + i); ok && !HeaderSafe(val.Text) {
			return refuse(ReasonUnsafeClaim, "claim "+name+" has a control character and cannot be sent in a header")
		}
	}
	for i := range v.policy.Require {
		if rq := &v.policy.Require[i]; !meets(c, rq) {
			return &Error{
				Status:      http.StatusForbidden,
				Reason:      ReasonScope,
				Description: "claim " + rq.Claim + " does not have a required value",
			}
		}
	}
	return nil
}

// checkTime checks exp (required), nbf and iat against the clock, with the leeway. exp is the
// time "on or after which the JWT MUST NOT be accepted" (RFC 7519 §4.1.4): at exp itself it has
// expired. Times are compared as float seconds, as NumericDate allows fractions.
func (v *Verifier) checkTime(w watched, now float64) *Error {
	exp, ok := w.get(watchExp)
	if !ok {
		return refuse(ReasonNoExp, "token has no exp; an expiry time is required")
	}
	if exp.Kind != token.Number {
		return refuse(ReasonClaims, "exp must be a number")
	}
	if now >= exp.Num+v.leeway {
		return refuse(ReasonExpired, "token has expired")
	}
	if nbf, ok := w.get(watchNbf); ok {
		if nbf.Kind != token.Number {
			return refuse(ReasonClaims, "nbf must be a number")
		}
		if now+v.leeway < nbf.Num {
			return refuse(ReasonNotYetValid, "token is not valid yet (nbf)")
		}
	}
	if iat, ok := w.get(watchIat); ok {
		if iat.Kind != token.Number {
			return refuse(ReasonClaims, "iat must be a number")
		}
		if iat.Num > now+v.leeway {
			return refuse(ReasonIssuedInFuture, "token was issued in the future (iat)")
		}
	}
	return nil
}

// checkAudience requires aud to be a string or an array with at least one accepted value.
func (v *Verifier) checkAudience(c *token.Claims) *Error {
	aud, ok := c.Get("aud")
	if !ok {
		return refuse(ReasonAudience, "token has no aud; an audience is required")
	}
	switch aud.Kind {
	case token.String:
		if slices.Contains(v.policy.Audiences, aud.Text) {
			return nil
		}
		return refuse(ReasonAudience, "aud has no accepted audience")
	case token.Array:
		if !aud.Strings {
			break
		}
		for _, a := range aud.Items {
			if slices.Contains(v.policy.Audiences, a) {
				return nil
			}
		}
		return refuse(ReasonAudience, "aud has no accepted audience")
	}
	return refuse(ReasonAudience, "aud must be a string or an array of strings")
}

// checkTokenType applies the token_type rule: by default a token_type must say "access" (an
// access-token verifier refuses refresh tokens, RFC 8725 §3.12); a configured value is required.
func (v *Verifier) checkTokenType(w watched) *Error {
	want := v.policy.TokenType
	if want == TokenTypeOff {
		return nil
	}
	tt, ok := w.get(watchTokenType)
	if !ok {
		if want == TokenTypeDefault {
			return nil
		}
		return refuse(ReasonTokenType, "token has no token_type; one is required")
	}
	if want == TokenTypeDefault {
		want = "access"
	}
	if tt.Kind != token.String || tt.Text != want {
		return refuse(ReasonTokenType, "token has the wrong token_type")
	}
	return nil
}

// HeaderSafe reports whether s can go in an HTTP header value: no control characters (CR, LF and
// NUL above all, which would split or cut the header) other than horizontal tab, and no DEL.
func HeaderSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// meets reports whether the claim named by rq equals one of its values or, for an array,
// contains one of them; a scope or scp string contains the words of its space-separated list
// (see Requirement). An object never meets a requirement.
func meets(c *token.Claims, rq *Requirement) bool {
	val, ok := c.Get(rq.Claim)
	if !ok {
		return false
	}
	switch val.Kind {
	case token.Object:
		return false
	case token.Array:
		for _, item := range val.Items {
			if slices.Contains(rq.Values, item) {
				return true
			}
		}
		return false
	case token.String:
		if isScopeList(rq.Claim) {
			return hasWord(val.Text, rq.Values)
		}
	}
	return slices.Contains(rq.Values, val.Text)
}

// isScopeList reports whether claim is one whose string value is a space-separated list of
// scopes: scope (RFC 8693 §4.2, RFC 9068 §2.2.3) and scp (its common short form, as Azure AD
// and Okta write it). Only these top-level names: every other claim is compared whole.
func isScopeList(claim string) bool {
	return claim == "scope" || claim == "scp"
}

// hasWord reports whether one of the words of list, separated by spaces (RFC 6749 §3.3: %x20,
// nothing else), is one of values. Repeated spaces make no empty word.
func hasWord(list string, values []string) bool {
	for list != "" {
		var w string
		w, list, _ = strings.Cut(list, " ")
		if w != "" && slices.Contains(values, w) {
			return true
		}
	}
	return false
}

// CheckRequirement validates a claim rule: a claim name and at least one value. A value for
// scope or scp, which are matched word by word, must be one word: "read write" could never
// match, and requiring both is two rules.
func CheckRequirement(rq Requirement) error {
	if rq.Claim == "" {
		return errors.New("require: the claim name must not be empty")
	}
	if len(rq.Values) == 0 {
		return fmt.Errorf("require %s: give at least one accepted value", rq.Claim)
	}
	if isScopeList(rq.Claim) {
		for _, v := range rq.Values {
			if v == "" || strings.ContainsAny(v, " \t\r\n") {
				return fmt.Errorf("require %s: %q is not a single scope; %s is matched word by word, so give each accepted scope as a value (any one passes) and put scopes that are all needed on require lines of their own",
					rq.Claim, v, rq.Claim)
			}
		}
	}
	return nil
}

// refuse is a 401 refusal.
func refuse(r Reason, description string) *Error {
	return &Error{Status: http.StatusUnauthorized, Reason: r, Description: description}
}
