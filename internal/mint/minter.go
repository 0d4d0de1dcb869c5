package mint

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/token"
	"github.com/gatehouse-dev/gatehouse/internal/users"
)

// Config says what goes into tokens.
type Config struct {
	// Issuer is the iss claim, "" for none.
	Issuer string
	// Audience is the aud claim (a string for one value, an array for more), nil for none.
	Audience []string
	// AccessTTL and RefreshTTL are the lifetimes; 0 means 5m and 24h (simplejwt's defaults).
	AccessTTL, RefreshTTL time.Duration
	// UserIDClaim is the claim holding the user id (simplejwt's USER_ID_CLAIM); "" means
	// "user_id". Its value is the user's claim of that name when the user has one (an inline
	// `claim user_id 7`, or what credentials_url answered), else the username.
	UserIDClaim string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// The default lifetimes, simplejwt's ACCESS_TOKEN_LIFETIME and REFRESH_TOKEN_LIFETIME.
const (
	defaultAccessTTL  = 5 * time.Minute
	defaultRefreshTTL = 24 * time.Hour
)

// FamilyClaim is the private claim of a refresh token that names its rotation family (the jti
// of the first refresh token of a login). Access tokens never carry it.
const FamilyClaim = "fam"

// Token is a minted token and what the issuer needs to know about it.
type Token struct {
	Raw    string
	JTI    string
	Exp    time.Time
	Family string // refresh tokens only
}

// Minter mints tokens in djangorestframework-simplejwt's layout: header alg, typ JWT (+ kid);
// claims token_type, exp, iat, jti (32 random hex digits), the user id claim, iss/aud when
// configured, then the user's other claims. Registered and issuer claims always win over user
// claims of the same name.
type Minter struct {
	ring            *Ring
	now             func() time.Time
	access, refresh time.Duration
	userID          string
	iss, aud        json.RawMessage // encoded claim values; nil when not configured
}

// NewMinter checks cfg and returns a Minter signing with ring's current signer.
func NewMinter(cfg Config, ring *Ring) (*Minter, error) {
	if ring == nil {
		return nil, errors.New("minter: no key ring")
	}
	m := &Minter{ring: ring, now: cfg.Now, access: cfg.AccessTTL, refresh: cfg.RefreshTTL, userID: cfg.UserIDClaim}
	for _, ttl := range []*time.Duration{&m.access, &m.refresh} {
		if *ttl < 0 || (*ttl > 0 && *ttl < time.Second) {
			return nil, fmt.Errorf("token lifetime %s is out of range; use at least 1s (0 for the default)", *ttl)
		}
	}
	if m.access == 0 {
		m.access = defaultAccessTTL
	}
	if m.refresh == 0 {
		m.refresh = defaultRefreshTTL
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.userID == "" {
		m.userID = "user_id"
	}
	for _, r := range reservedClaims {
		if strings.EqualFold(m.userID, r) {
			return nil, fmt.Errorf("user id claim %q is a claim the issuer sets itself; use another name, such as user_id or sub", m.userID)
		}
	}
	if cfg.Issuer != "" {
		m.iss, _ = json.Marshal(cfg.Issuer) // a string always marshals
	}
	switch {
	case slices.Contains(cfg.Audience, ""):
		return nil, errors.New("audience must not contain an empty value")
	case len(cfg.Audience) == 1:
		m.aud, _ = json.Marshal(cfg.Audience[0])
	case len(cfg.Audience) > 1:
		m.aud, _ = json.Marshal(cfg.Audience)
	}
	return m, nil
}

// UserIDClaim is the name of the claim that holds the user id ("user_id" by default).
func (m *Minter) UserIDClaim() string { return m.userID }

// Lifetimes returns the access and refresh lifetimes in force (defaults applied).
func (m *Minter) Lifetimes() (access, refresh time.Duration) { return m.access, m.refresh }

// Pair mints an access token and a refresh token for a login; the refresh token starts a new
// family (Family = its own JTI).
func (m *Minter) Pair(id users.Identity) (access, refresh Token, err error) {
	uid, extras, err := m.userClaims(id)
	if err != nil {
		return Token{}, Token{}, err
	}
	now := m.now()
	s := m.ring.Signer()

	access = Token{JTI: newJTI(), Exp: time.Unix(now.Add(m.access).Unix(), 0)}
	p := newPayload("access", access.Exp.Unix(), now.Unix(), access.JTI)
	m.addIdentity(p, uid, nil)
	for _, c := range extras {
		p.add(c.name, c.value)
	}
	body := p.bytes()
	if len(extras) > 0 {
		// User claims come from the configuration or an app server: make sure the claim set is
		// one verifiers accept (no names differing only in case, no collisions when flattened,
		// no excessive nesting) rather than issue tokens that are refused later.
		if _, err := token.ParseClaims(body); err != nil {
			return Token{}, Token{}, fmt.Errorf("the user's claims do not make a valid claim set (%v); "+
				"rename claims whose names differ only in case or collide with dotted names", err)
		}
	}
	if access.Raw, err = s.Sign(body); err != nil {
		return Token{}, Token{}, err
	}

	refresh = Token{JTI: newJTI(), Exp: time.Unix(now.Add(m.refresh).Unix(), 0)}
	refresh.Family = refresh.JTI
	p = newPayload("refresh", refresh.Exp.Unix(), now.Unix(), refresh.JTI)
	fam, _ := json.Marshal(refresh.Family)
	m.addIdentity(p, uid, nil)
	p.add(FamilyClaim, fam)
	for _, c := range extras {
		p.add(c.name, c.value)
	}
	if refresh.Raw, err = s.Sign(p.bytes()); err != nil {
		return Token{}, Token{}, err
	}
	return access, refresh, nil
}

// userClaims encodes the user id and the user's other claims (sorted, reserved ones dropped).
func (m *Minter) userClaims(id users.Identity) (uid json.RawMessage, extras []claim, err error) {
	fields := make(map[string]json.RawMessage, len(id.Claims))
	for name, v := range id.Claims {
		if fields[name], err = json.Marshal(v); err != nil {
			return nil, nil, fmt.Errorf("user claim %q cannot be encoded as JSON", name)
		}
	}
	if v, ok := id.Claims[m.userID]; ok && v != nil {
		uid = fields[m.userID]
	} else {
		if id.Username == "" {
			return nil, nil, fmt.Errorf("the user has neither a username nor a %s claim", m.userID)
		}
		uid, _ = json.Marshal(id.Username)
	}
	return uid, m.sortedClaims(fields), nil
}

// addIdentity adds the user id, then iss and aud: the configured values, else (for a token
// minted from a refresh token) the refresh token's own.
func (m *Minter) addIdentity(p *payload, uid json.RawMessage, from map[string]json.RawMessage) {
	p.add(m.userID, uid)
	if iss := m.iss; iss != nil {
		p.add("iss", iss)
	} else if iss, ok := from["iss"]; ok {
		p.add("iss", iss)
	}
	if aud := m.aud; aud != nil {
		p.add("aud", aud)
	} else if aud, ok := from["aud"]; ok {
		p.add("aud", aud)
	}
}

// Access mints an access token from a verified refresh token: its claims are copied except exp,
// iat, jti, nbf, token_type and FamilyClaim, which are fresh (as simplejwt's
// RefreshToken.access_token does).
func (m *Minter) Access(refresh *token.Claims) (Token, error) {
	fields, uid, err := m.refreshFields(refresh)
	if err != nil {
		return Token{}, err
	}
	now := m.now()
	t := Token{JTI: newJTI(), Exp: time.Unix(now.Add(m.access).Unix(), 0)}
	p := newPayload("access", t.Exp.Unix(), now.Unix(), t.JTI)
	m.addIdentity(p, uid, fields)
	for _, c := range m.sortedClaims(fields) {
		p.add(c.name, c.value)
	}
	if t.Raw, err = m.ring.Signer().Sign(p.bytes()); err != nil {
		return Token{}, err
	}
	return t, nil
}

// Rotate mints the successor of a verified refresh token: same claims and family, a new jti and
// iat, and the same exp, so a family's lifetime is fixed at login (the user logs in again when
// it ends, however active).
func (m *Minter) Rotate(refresh *token.Claims) (Token, error) {
	fields, uid, err := m.refreshFields(refresh)
	if err != nil {
		return Token{}, err
	}
	now := m.now()
	var expSec float64
	if err := json.Unmarshal(fields["exp"], &expSec); err != nil || math.IsNaN(expSec) || expSec > 1<<53 {
		return Token{}, errors.New("refresh token exp is not a valid number")
	}
	// A fractional exp (allowed by NumericDate, written by some issuers) is cut to the second.
	exp := int64(expSec)
	if exp <= now.Unix() {
		return Token{}, errors.New("refresh token has expired")
	}
	// A refresh token without a family (from simplejwt, sharing the secret) is the first of its
	// own: its jti names the family.
	famClaim, ok := fields[FamilyClaim]
	if !ok {
		famClaim = fields["jti"]
	}
	var family string
	if err := json.Unmarshal(famClaim, &family); err != nil || family == "" {
		return Token{}, errors.New("refresh token has no family: neither a " + FamilyClaim + " nor a jti string claim")
	}
	t := Token{JTI: newJTI(), Exp: time.Unix(exp, 0), Family: family}
	p := newPayload("refresh", exp, now.Unix(), t.JTI)
	fam, _ := json.Marshal(family)
	m.addIdentity(p, uid, fields)
	p.add(FamilyClaim, fam)
	for _, c := range m.sortedClaims(fields) {
		p.add(c.name, c.value)
	}
	if t.Raw, err = m.ring.Signer().Sign(p.bytes()); err != nil {
		return Token{}, err
	}
	return t, nil
}

// refreshFields decodes a verified refresh token's claims and returns them with its user id. A
// token that is not a refresh token, or has no user id, is refused: the caller's verification
// policy is not relied on to have checked either.
func (m *Minter) refreshFields(refresh *token.Claims) (map[string]json.RawMessage, json.RawMessage, error) {
	if refresh == nil {
		return nil, nil, errors.New("no refresh token claims")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(refresh.Raw, &fields); err != nil || fields == nil {
		return nil, nil, errors.New("refresh token claims are not a JSON object")
	}
	var tt string
	if err := json.Unmarshal(fields["token_type"], &tt); err != nil || tt != "refresh" {
		return nil, nil, errors.New("token_type is not refresh")
	}
	uid, ok := fields[m.userID]
	if !ok {
		return nil, nil, fmt.Errorf("refresh token has no %s claim", m.userID)
	}
	return fields, uid, nil
}
