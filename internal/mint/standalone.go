package mint

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// Standalone mints one token with s outside any issuer, as the `caddy jwt-token` command does
// for trying out a jwt_auth configuration: token_type "access", exp (now + ttl), iat and a fresh
// jti, written as Minter writes them, then claims sorted by name. A token_type or jti in claims
// replaces the default one; exp and iat cannot be given, since ttl sets them. Each value must be
// one JSON value, and the claim set is checked as verifiers read it, so a token jwt_auth would
// refuse for its shape (names differing only in case, say) is not minted.
func Standalone(s *Signer, now time.Time, ttl time.Duration, claims map[string]json.RawMessage) (Token, error) {
	if s == nil {
		return Token{}, errors.New("standalone token: no signer")
	}
	if ttl <= 0 {
		return Token{}, fmt.Errorf("token lifetime %s must be positive", ttl)
	}
	for name, v := range claims {
		if name == "exp" || name == "iat" {
			return Token{}, fmt.Errorf("claim %s is set from the token's lifetime and cannot be given", name)
		}
		// A value is copied into the payload as it is: one that is not a single JSON value
		// could add members of its own (`1,"admin":true`).
		if !json.Valid(v) {
			return Token{}, fmt.Errorf("claim %q is not a JSON value", name)
		}
	}
	t := Token{Exp: time.Unix(now.Add(ttl).Unix(), 0)}
	tokenType, ok := claims["token_type"]
	if !ok {
		tokenType = json.RawMessage(`"access"`)
	}
	jti, ok := claims["jti"]
	if ok {
		_ = json.Unmarshal(jti, &t.JTI) // Token.JTI stays "" for a jti that is not a string
	} else {
		t.JTI = newJTI()
		jti, _ = json.Marshal(t.JTI)
	}

	p := &payload{b: append(make([]byte, 0, 256), `{"token_type":`...)}
	p.b = append(p.b, tokenType...)
	p.add("exp", strconv.AppendInt(nil, t.Exp.Unix(), 10))
	p.add("iat", strconv.AppendInt(nil, now.Unix(), 10))
	p.add("jti", jti)
	for _, c := range sortClaims(claims, isSetFirst) {
		p.add(c.name, c.value)
	}
	body := p.bytes()
	if _, err := token.ParseClaims(body); err != nil {
		return Token{}, fmt.Errorf("the claims do not make a valid claim set (%v); "+
			"rename claims whose names differ only in case or collide with dotted names", err)
	}
	var err error
	if t.Raw, err = s.Sign(body); err != nil {
		return Token{}, err
	}
	return t, nil
}

// isSetFirst reports the claims Standalone writes before the others.
func isSetFirst(name string) bool { return name == "token_type" || name == "jti" }
