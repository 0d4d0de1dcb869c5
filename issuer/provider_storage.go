package issuer

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"go.uber.org/zap"
	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse-dev/gatehouse/internal/kv"
	"github.com/gatehouse-dev/gatehouse/internal/mint"
	"github.com/gatehouse-dev/gatehouse/internal/revoke"
	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/token"
	"github.com/gatehouse-dev/gatehouse/internal/verify"
)

// The token_type of the provider's own tokens, so that neither is taken for a Gatehouse access
// or refresh token by jwt_auth, refresh or the session renewal (which want "access" and
// "refresh"), nor one for the other.
const (
	oidcRefreshType = "oidc_refresh"
	oidcAccessType  = "oidc_access"
	oidcIDType      = "id"
)

// errStoreDown wraps storage failures (as opposed to a missing or refused record).
var errStoreDown = errors.New("the provider's storage is unavailable")

// opStorage is the op.Storage of a provider: authorization requests, codes and grants in the
// issuer's kv.Storage; refresh tokens signed by the issuer's key ring, rotated and checked for
// reuse by the issuer's revocations; keys from the ring.
type opStorage struct {
	p       *provider
	kv      kv.Storage
	prefix  string
	refresh *verify.Verifier // the provider's refresh tokens
	access  *verify.Verifier // the provider's access tokens
	now     func() time.Time
	// lastPurge is when this instance last started Purge (unix seconds).
	lastPurge atomic.Int64
}

// purgeEvery is how often an instance that serves authorization requests purges the records
// that can no longer be used.
const purgeEvery = 10 * time.Minute

// maybePurge starts Purge in the background when it is due.
func (s *opStorage) maybePurge() {
	now := s.now().Unix()
	last := s.lastPurge.Load()
	if now-last < int64(purgeEvery/time.Second) || !s.lastPurge.CompareAndSwap(last, now) {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := s.Purge(ctx); err != nil {
			s.p.h.log.Warn("purging the OpenID provider's expired records failed", zap.Error(err))
		}
	}()
}

// authRequest is an authorization request and, once a code is exchanged, the grant it became:
// the refresh tokens name it as their family, and userinfo reads the user's claims from it.
type authRequest struct {
	ID          string   `json:"id"`
	ClientID    string   `json:"client_id"`
	RedirectURI string   `json:"redirect_uri"`
	State       string   `json:"state,omitempty"`
	Nonce       string   `json:"nonce,omitempty"`
	Scopes      []string `json:"scopes"`
	Mode        string   `json:"response_mode,omitempty"`
	Challenge   string   `json:"code_challenge,omitempty"`
	Method      string   `json:"code_challenge_method,omitempty"`
	Created     int64    `json:"created"`

	// Set by the login step: the user and the browser session the sign-in came from.
	Subject  string                     `json:"sub,omitempty"`
	Claims   map[string]json.RawMessage `json:"claims,omitempty"`
	AuthTime int64                      `json:"auth_time,omitempty"`
	SID      string                     `json:"sid,omitempty"`     // the session's refresh family
	SIDExp   int64                      `json:"sid_exp,omitempty"` // when the session ends at the latest
	Coded    bool                       `json:"coded,omitempty"`   // a code was issued
}

func (a *authRequest) GetID() string          { return a.ID }
func (a *authRequest) GetACR() string         { return "" }
func (a *authRequest) GetAMR() []string       { return []string{"pwd"} }
func (a *authRequest) GetAudience() []string  { return []string{a.ClientID} }
func (a *authRequest) GetAuthTime() time.Time { return time.Unix(a.AuthTime, 0) }
func (a *authRequest) GetClientID() string    { return a.ClientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if a.Challenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{Challenge: a.Challenge, Method: oidc.CodeChallengeMethod(a.Method)}
}
func (a *authRequest) GetNonce() string                   { return a.Nonce }
func (a *authRequest) GetRedirectURI() string             { return a.RedirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType { return oidc.ResponseTypeCode }
func (a *authRequest) GetResponseMode() oidc.ResponseMode { return oidc.ResponseMode(a.Mode) }
func (a *authRequest) GetScopes() []string                { return a.Scopes }
func (a *authRequest) GetState() string                   { return a.State }
func (a *authRequest) GetSubject() string                 { return a.Subject }
func (a *authRequest) Done() bool                         { return a.Subject != "" }

// refreshRequest is a presented refresh token of a grant.
type refreshRequest struct {
	*authRequest
	jti    string
	exp    time.Time
	scopes []string
}

func (r *refreshRequest) GetScopes() []string         { return r.scopes }
func (r *refreshRequest) SetCurrentScopes(s []string) { r.scopes = s }

// codeRecord is what the storage keeps about an issued code, under the code's hash.
type codeRecord struct {
	ID   string `json:"id"`
	At   int64  `json:"at"`
	Used bool   `json:"used,omitempty"`
}

func (s *opStorage) reqKey(id string) string { return s.prefix + "req/" + id }
func (s *opStorage) codeKey(code string) string {
	sum := sha256.Sum256([]byte(code))
	return s.prefix + "code/" + hex.EncodeToString(sum[:])
}

// newRequestID is 32 random hex digits (a valid revocation family id too).
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func validRequestID(id string) bool {
	if len(id) != 32 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil && strings.ToLower(id) == id
}

func (s *opStorage) load(ctx context.Context, key string, v any) error {
	data, err := s.kv.Load(ctx, key)
	switch {
	case kv.IsNotExist(err):
		return errors.New("no such record")
	case err != nil:
		return fmt.Errorf("%w: %v", errStoreDown, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return errors.New("the stored record is unreadable")
	}
	return nil
}

func (s *opStorage) save(ctx context.Context, key string, v any) error {
	data, _ := json.Marshal(v) // plain structs always marshal
	if err := s.kv.Store(ctx, key, data); err != nil {
		return fmt.Errorf("%w: %v", errStoreDown, err)
	}
	return nil
}

// storeErr is the op's answer to a storage failure: server_error, not a client fault.
func storeErr(err error) error {
	if errors.Is(err, errStoreDown) {
		return oidc.ErrServerError().WithDescription("the provider's storage is unavailable; try again").WithParent(err)
	}
	return err
}

// CreateAuthRequest stores a validated authorization request after the checks the op leaves to
// us: the openid scope, the client's scopes, and PKCE (S256 only; required of public clients).
// The error answers are redirected to the (validated) redirect URI, as OIDC Core §3.1.2.6 says.
func (s *opStorage) CreateAuthRequest(ctx context.Context, ar *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	c := s.p.clients[ar.ClientID]
	if c == nil { // the op validated it; never trust that twice
		return nil, oidc.ErrInvalidRequestRedirectURI().WithDescription("unknown client")
	}
	switch {
	case !slices.Contains(ar.Scopes, oidc.ScopeOpenID):
		return nil, oidc.ErrInvalidScope().WithDescription("the openid scope is required")
	case ar.CodeChallenge == "" && c.public:
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE is required: send code_challenge with code_challenge_method S256")
	case ar.CodeChallenge != "" && ar.CodeChallengeMethod != oidc.CodeChallengeMethodS256:
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256; plain is not accepted")
	}
	scopes := slices.DeleteFunc(slices.Clone([]string(ar.Scopes)), func(sc string) bool { return !slices.Contains(c.scopes, sc) })
	a := &authRequest{
		ID: newRequestID(), ClientID: ar.ClientID, RedirectURI: ar.RedirectURI, State: ar.State, Nonce: ar.Nonce,
		Scopes: scopes, Mode: string(ar.ResponseMode), Challenge: ar.CodeChallenge, Method: string(ar.CodeChallengeMethod),
		Created: s.now().Unix(),
	}
	e := exchangeFrom(ctx)
	switch {
	case e != nil && e.sess != nil:
		s.p.fillUser(a, e.sess)
	case slices.Contains(ar.Prompt, oidc.PromptNone):
		return nil, oidc.ErrLoginRequired().WithDescription("the user is not signed in")
	}
	if err := s.save(ctx, s.reqKey(a.ID), a); err != nil {
		return nil, storeErr(err)
	}
	s.maybePurge()
	return a, nil
}

// fillUser gives a the user of the session t.
func (p *provider) fillUser(a *authRequest, t *presentedToken) {
	var fields map[string]json.RawMessage
	_ = json.Unmarshal(t.claims.Raw, &fields) // a verified token's claims are a JSON object
	uidName := p.h.minter.UserIDClaim()
	a.Subject = subjectOf(fields[uidName])
	a.Claims = map[string]json.RawMessage{}
	for k, v := range fields {
		switch k {
		case "token_type", "exp", "iat", "nbf", "jti", "iss", "aud", mint.FamilyClaim, uidName:
		default:
			a.Claims[k] = v
		}
	}
	if iat, ok := t.claims.Get("iat"); ok && iat.Kind == token.Number && iat.Num < maxNumericDate {
		a.AuthTime = int64(iat.Num)
	} else {
		a.AuthTime = p.store.now().Unix()
	}
	a.SID, a.SIDExp = t.family, t.exp.Unix()
}

// subjectOf is the sub of a user id claim: a string as it is, anything else (a number) as its
// JSON text.
func subjectOf(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// AuthRequestByID returns a pending authorization request.
func (s *opStorage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	a, err := s.pending(ctx, id)
	if err != nil {
		return nil, storeErr(err)
	}
	return a, nil
}

// pending loads the authorization request id that is still waiting for its code.
func (s *opStorage) pending(ctx context.Context, id string) (*authRequest, error) {
	if !validRequestID(id) {
		return nil, oidc.ErrInvalidRequest().WithDescription("unknown authorization request")
	}
	a := new(authRequest)
	if err := s.load(ctx, s.reqKey(id), a); err != nil {
		if errors.Is(err, errStoreDown) {
			return nil, err
		}
		return nil, oidc.ErrInvalidRequest().WithDescription("unknown authorization request")
	}
	if a.Coded || s.now().Sub(time.Unix(a.Created, 0)) > authRequestTTL {
		return nil, oidc.ErrInvalidRequest().WithDescription("the authorization request has expired or was answered")
	}
	return a, nil
}

// complete gives the pending request id the user of session t (after the login page).
func (s *opStorage) complete(ctx context.Context, id string, t *presentedToken) error {
	a, err := s.pending(ctx, id)
	if err != nil {
		return err
	}
	s.p.fillUser(a, t)
	return s.save(ctx, s.reqKey(id), a)
}

// SaveAuthCode records the code issued for request id: once per request.
func (s *opStorage) SaveAuthCode(ctx context.Context, id, code string) error {
	a, err := s.pending(ctx, id)
	if err != nil {
		return storeErr(err)
	}
	a.Coded = true
	if err := s.save(ctx, s.reqKey(id), a); err != nil {
		return storeErr(err)
	}
	return storeErr(s.save(ctx, s.codeKey(code), codeRecord{ID: id, At: s.now().Unix()}))
}

// AuthRequestByCode uses code up, under a storage lock so that of two exchanges of one code
// (on any instance sharing the storage) exactly one gets it. A replayed code revokes the
// refresh tokens issued for it (RFC 6749 §4.1.2); an expired one (codeTTL) is refused.
func (s *opStorage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	if code == "" || len(code) > 512 {
		return nil, errors.New("invalid code")
	}
	key := s.codeKey(code)
	if err := s.kv.Lock(ctx, key); err != nil {
		return nil, storeErr(fmt.Errorf("%w: %v", errStoreDown, err))
	}
	defer func() { _ = s.kv.Unlock(context.WithoutCancel(ctx), key) }()
	var rec codeRecord
	if err := s.load(ctx, key, &rec); err != nil {
		return nil, storeErr(err)
	}
	a := new(authRequest)
	if err := s.load(ctx, s.reqKey(rec.ID), a); err != nil {
		return nil, storeErr(err)
	}
	if rec.Used {
		s.p.h.log.Warn("authorization code replayed; revoking the tokens issued for it", zap.String("client_id", a.ClientID))
		if err := s.p.h.store.RevokeFamily(ctx, a.ID, time.Unix(a.SIDExp, 0)); err != nil {
			return nil, storeErr(fmt.Errorf("%w: %v", errStoreDown, err))
		}
		return nil, errors.New("the code was used already")
	}
	rec.Used = true
	if err := s.save(ctx, key, rec); err != nil {
		return nil, storeErr(err)
	}
	if s.now().Sub(time.Unix(rec.At, 0)) > codeTTL {
		return nil, errors.New("the code has expired")
	}
	if err := s.alive(ctx, a); err != nil {
		return nil, err
	}
	return a, nil
}

// alive checks that the grant a and the browser session it came from are not revoked (logout,
// end_session, a replayed code).
func (s *opStorage) alive(ctx context.Context, a *authRequest) error {
	if err := s.p.h.store.Check(ctx, a.ID, a.SID); err != nil {
		if errors.Is(err, revoke.ErrRevoked) || errors.Is(err, revoke.ErrReused) || errors.Is(err, revoke.ErrInvalidID) {
			return errors.New("the sign-in was revoked")
		}
		return storeErr(fmt.Errorf("%w: %v", errStoreDown, err))
	}
	if s.now().Unix() >= a.SIDExp {
		return errors.New("the session has ended")
	}
	return nil
}

// DeleteAuthRequest does nothing: the request stays as the grant its refresh tokens and
// userinfo refer to, and is purged when its session would have ended. Its code is used up
// already and it can get no other.
func (s *opStorage) DeleteAuthRequest(context.Context, string) error { return nil }

// grantOf is the grant behind a token request.
func grantOf(req op.TokenRequest) (*authRequest, *refreshRequest) {
	switch r := req.(type) {
	case *authRequest:
		return r, nil
	case *refreshRequest:
		return r.authRequest, r
	}
	return nil, nil
}

// CreateAccessToken returns the id of a new access token (a JWT the op signs): the grant id, a
// dot and a random part, so that userinfo finds the grant.
func (s *opStorage) CreateAccessToken(_ context.Context, req op.TokenRequest) (string, time.Time, error) {
	g, _ := grantOf(req)
	if g == nil {
		return "", time.Time{}, oidc.ErrUnsupportedGrantType()
	}
	access, _ := s.p.h.minter.Lifetimes()
	return g.ID + "." + newRequestID(), s.now().Add(access), nil
}

// CreateAccessAndRefreshTokens is CreateAccessToken plus a refresh token; a presented refresh
// token is used up first (rotation), and presenting a used one again revokes the grant's
// family: the issuer's own refresh rotation and reuse detection (internal/revoke).
func (s *opStorage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	g, rr := grantOf(req)
	if g == nil {
		return "", "", time.Time{}, oidc.ErrUnsupportedGrantType()
	}
	id, exp, err := s.CreateAccessToken(ctx, req)
	if err != nil {
		return "", "", time.Time{}, err
	}
	// Minted before the presented token is used up, so a token is never spent on an answer
	// that is then not given.
	next, err := s.mintRefresh(g)
	if err != nil {
		s.p.h.log.Error("cannot sign a refresh token", zap.Error(err))
		return "", "", time.Time{}, oidc.ErrServerError()
	}
	if current != "" {
		if rr == nil {
			return "", "", time.Time{}, oidc.ErrInvalidGrant()
		}
		if err := s.p.h.store.RotateWithin(ctx, rr.jti, g.ID, rr.exp, 0); err != nil {
			if errors.Is(err, revoke.ErrReused) || errors.Is(err, revoke.ErrRevoked) || errors.Is(err, revoke.ErrInvalidID) {
				return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("the refresh token was used already; the grant is revoked")
			}
			return "", "", time.Time{}, storeErr(fmt.Errorf("%w: %v", errStoreDown, err))
		}
	}
	return id, next, exp, nil
}

// mintRefresh signs a refresh token of grant g. It lives as long as the browser session g came
// from, so that revoking that session's family (logout) outlives every refresh token of it.
func (s *opStorage) mintRefresh(g *authRequest) (string, error) {
	now := s.now().Unix()
	body, _ := json.Marshal(map[string]any{
		"token_type": oidcRefreshType, "exp": g.SIDExp, "iat": now, "jti": newRequestID(),
		"iss": s.p.issuer, "aud": g.ClientID, "sub": g.Subject, mint.FamilyClaim: g.ID,
	})
	return s.p.h.ring.Signer().Sign(body)
}

// TokenRequestByRefreshToken checks a presented refresh token: signed by the ring, the
// provider's type, not revoked, its grant and session alive.
func (s *opStorage) TokenRequestByRefreshToken(ctx context.Context, raw string) (op.RefreshTokenRequest, error) {
	c, err := s.refresh.Verify(ctx, raw)
	if err != nil {
		return nil, errors.New("the refresh token is not valid")
	}
	jti, _ := c.Get("jti")
	fam, _ := c.Get(mint.FamilyClaim)
	exp, _ := c.Get("exp")
	if jti.Kind != token.String || fam.Kind != token.String || !validRequestID(fam.Text) || exp.Num > maxNumericDate {
		return nil, errors.New("the refresh token is not valid")
	}
	if err := s.p.h.store.Check(ctx, jti.Text, fam.Text); err != nil {
		if errors.Is(err, revoke.ErrRevoked) || errors.Is(err, revoke.ErrInvalidID) {
			return nil, errors.New("the refresh token is revoked")
		}
		return nil, storeErr(fmt.Errorf("%w: %v", errStoreDown, err))
	}
	g := new(authRequest)
	if err := s.load(ctx, s.reqKey(fam.Text), g); err != nil {
		return nil, storeErr(err)
	}
	if err := s.alive(ctx, g); err != nil {
		return nil, err
	}
	return &refreshRequest{authRequest: g, jti: jti.Text, exp: time.Unix(int64(math.Ceil(exp.Num)), 0), scopes: g.Scopes}, nil
}

// TerminateSession is TerminateSessionFromRequest's fallback; the op calls the latter.
func (s *opStorage) TerminateSession(ctx context.Context, _, _ string) error {
	_, err := s.TerminateSessionFromRequest(ctx, &op.EndSessionRequest{})
	return err
}

// TerminateSessionFromRequest ends the browser's session at the provider (RP-initiated logout):
// its refresh family is revoked, which ends every grant made from it, and its cookies are
// cleared. The op has checked the post_logout_redirect_uri against the client's.
func (s *opStorage) TerminateSessionFromRequest(ctx context.Context, req *op.EndSessionRequest) (string, error) {
	h := s.p.h
	e := exchangeFrom(ctx)
	if e == nil {
		return req.RedirectURI, nil
	}
	outcome := LogoutNoSession
	if raw, ok := session.Value(e.r, h.sessions.cookies.Refresh); ok {
		t, p := h.check(ctx, "end_session", raw, h.refreshTokens)
		if p == nil {
			p = h.revoke(ctx, "end_session", t)
		}
		if p == problemUnavailable {
			h.events.Logout(logoutOutcome(p))
			return "", oidc.ErrServerError().WithDescription("signing out is not possible right now; try again")
		}
		outcome = logoutOutcome(p)
	}
	h.events.Logout(outcome)
	h.sessions.cookies.Clear(e.w, e.r)
	return req.RedirectURI, nil
}

// RevokeToken (RFC 7009) revokes a refresh token's grant; access tokens are short-lived JWTs and
// are not kept, so revoking one does nothing (allowed by RFC 7009 §2.2).
func (s *opStorage) RevokeToken(ctx context.Context, tok, userID, clientID string) *oidc.Error {
	if userID != "" {
		return nil
	}
	c, err := s.refresh.Verify(ctx, tok)
	if err != nil {
		return nil // RFC 7009 §2.2: an invalid token is no error
	}
	aud, _ := c.Get("aud")
	fam, _ := c.Get(mint.FamilyClaim)
	exp, _ := c.Get("exp")
	if aud.Text != clientID {
		return oidc.ErrInvalidClient().WithDescription("the token was issued to another client")
	}
	if err := s.p.h.store.RevokeFamily(ctx, fam.Text, time.Unix(int64(math.Ceil(min(exp.Num, maxNumericDate))), 0)); err != nil {
		return oidc.ErrServerError().WithDescription("the token cannot be revoked right now")
	}
	return nil
}

// GetRefreshTokenInfo tells the op's revocation endpoint whose refresh token tok is.
func (s *opStorage) GetRefreshTokenInfo(ctx context.Context, _ string, tok string) (string, string, error) {
	c, err := s.refresh.Verify(ctx, tok)
	if err != nil {
		return "", "", op.ErrInvalidRefreshToken
	}
	sub, _ := c.Get("sub")
	jti, _ := c.Get("jti")
	return sub.Text, jti.Text, nil
}

// sigKey is a ring signer as the op's op.SigningKey.
type sigKey struct{ s *mint.Signer }

func (k sigKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.SignatureAlgorithm(k.s.Alg) }
func (k sigKey) Key() any                                    { return k.s.PrivateKey() }
func (k sigKey) ID() string                                  { return k.s.Kid }

// SigningKey is the ring's current signer.
func (s *opStorage) SigningKey(context.Context) (op.SigningKey, error) {
	sg := s.p.h.ring.Signer()
	if sg.PrivateKey() == nil {
		return nil, oidc.ErrServerError().WithDescription("no public-key signing key")
	}
	return sigKey{sg}, nil
}

// pubKey is a ring verification key as the op's op.Key.
type pubKey struct {
	id, alg string
	key     any
}

func (k pubKey) ID() string                         { return k.id }
func (k pubKey) Algorithm() jose.SignatureAlgorithm { return jose.SignatureAlgorithm(k.alg) }
func (k pubKey) Use() string                        { return "sig" }
func (k pubKey) Key() any                           { return k.key }

// KeySet is the ring's public keys: what jwks.json publishes.
func (s *opStorage) KeySet(context.Context) ([]op.Key, error) {
	var out []op.Key
	for _, k := range s.p.h.ring.Current().Keys() {
		if len(k.Algs) == 0 || k.ID == "" {
			continue
		}
		out = append(out, pubKey{id: k.ID, alg: k.Algs[0], key: k.Public})
	}
	return out, nil
}

// SignatureAlgorithms are the ring's algorithms.
func (s *opStorage) SignatureAlgorithms(ctx context.Context) ([]jose.SignatureAlgorithm, error) {
	ks, _ := s.KeySet(ctx)
	var out []jose.SignatureAlgorithm
	for _, k := range ks {
		if !slices.Contains(out, k.Algorithm()) {
			out = append(out, k.Algorithm())
		}
	}
	return out, nil
}

// GetClientByClientID returns the client, as seen by this request.
func (s *opStorage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c := s.p.clients[id]
	if c == nil {
		return nil, oidc.ErrInvalidClient().WithDescription("unknown client")
	}
	e := exchangeFrom(ctx)
	return clientView{opClient: c, signedIn: e != nil && e.sess != nil}, nil
}

// dummyHash is compared against for an unknown client, so that it costs what a known one does.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("gatehouse-unknown-client"), bcrypt.DefaultCost)

// AuthorizeClientIDSecret checks a confidential client's secret.
func (s *opStorage) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	c := s.p.clients[id]
	if c == nil {
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(secret))
		return errors.New("unknown client")
	}
	if !c.checkSecret(secret) {
		return errors.New("wrong client secret")
	}
	return nil
}

// SetUserinfoFromScopes is deprecated in the op; SetUserinfoFromRequest does the work.
func (s *opStorage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest fills the ID token's user claims.
func (s *opStorage) SetUserinfoFromRequest(_ context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	g, _ := grantOf(req)
	if g == nil {
		return oidc.ErrServerError()
	}
	s.p.userinfo(info, g, scopes)
	info.AppendClaims("token_type", oidcIDType)
	return nil
}

// SetUserinfoFromToken answers userinfo for an access token: the claims of its grant, while the
// grant and its session are alive.
func (s *opStorage) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, tokenID, subject, _ string) error {
	g, err := s.grantOfToken(ctx, tokenID)
	if err != nil {
		return err
	}
	if g.Subject != subject {
		return errors.New("the token does not match its grant")
	}
	s.p.userinfo(info, g, g.Scopes)
	return nil
}

func (s *opStorage) grantOfToken(ctx context.Context, tokenID string) (*authRequest, error) {
	id, _, ok := strings.Cut(tokenID, ".")
	if !ok || !validRequestID(id) {
		return nil, errors.New("unknown token")
	}
	g := new(authRequest)
	if err := s.load(ctx, s.reqKey(id), g); err != nil {
		return nil, storeErr(err)
	}
	if err := s.alive(ctx, g); err != nil {
		return nil, err
	}
	return g, nil
}

// SetIntrospectionFromToken answers introspection (RFC 7662) of an access token.
func (s *opStorage) SetIntrospectionFromToken(ctx context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, _ string) error {
	g, err := s.grantOfToken(ctx, tokenID)
	if err != nil || g.Subject != subject {
		return errors.New("the token is not active")
	}
	resp.Active = true
	resp.Subject = g.Subject
	resp.ClientID = g.ClientID
	resp.Scope = g.Scopes
	return nil
}

// GetPrivateClaimsFromScopes marks the access tokens as the provider's (token_type), so that
// no jwt_auth takes one for a Gatehouse access token.
func (s *opStorage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return map[string]any{"token_type": oidcAccessType}, nil
}

// GetKeyByIDAndClientID is for the JWT profile grant, which the provider does not offer.
func (s *opStorage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("the JWT profile grant is not supported")
}

// ValidateJWTProfileScopes is for the JWT profile grant, which the provider does not offer.
func (s *opStorage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("the JWT profile grant is not supported")
}

// Health reports the provider ready.
func (s *opStorage) Health(context.Context) error { return nil }

// scopeClaims are the standard claims each scope releases (OpenID Connect Core §5.4).
var scopeClaims = map[string][]string{
	oidc.ScopeProfile: {"name", "family_name", "given_name", "middle_name", "nickname", "preferred_username", "profile",
		"picture", "website", "gender", "birthdate", "zoneinfo", "locale", "updated_at"},
	oidc.ScopeEmail:   {"email", "email_verified"},
	oidc.ScopePhone:   {"phone_number", "phone_number_verified"},
	oidc.ScopeAddress: {"address"},
}

// userinfo sets the claims of grant g that scopes and the client release.
func (p *provider) userinfo(info *oidc.UserInfo, g *authRequest, scopes []string) {
	info.Subject = g.Subject
	released := map[string]bool{}
	for _, sc := range scopes {
		for _, n := range scopeClaims[sc] {
			released[n] = true
		}
	}
	if c := p.clients[g.ClientID]; c != nil {
		for _, n := range c.claims {
			released[n] = true
		}
	}
	for name, v := range g.Claims {
		if released[name] {
			info.AppendClaims(name, v)
		}
	}
	if released["preferred_username"] && g.Claims["preferred_username"] == nil {
		// The user id is the username unless the user has a user id claim of its own.
		info.AppendClaims("preferred_username", g.Subject)
	}
}

// Purge deletes the authorization requests and codes that can no longer be used: pending ones
// past authRequestTTL, codes past codeTTL (kept that long after use to catch a replay), grants
// past their session's end. It returns how many it deleted.
func (s *opStorage) Purge(ctx context.Context) (int, error) {
	now := s.now()
	n := 0
	keys, err := s.kv.List(ctx, s.prefix+"code", true)
	if err != nil && !kv.IsNotExist(err) {
		return 0, err
	}
	for _, k := range keys {
		if !isOurRecord(k, 64) {
			continue
		}
		var rec codeRecord
		if err := s.load(ctx, k, &rec); err == nil && now.Sub(time.Unix(rec.At, 0)) <= 2*authRequestTTL {
			continue
		}
		if s.kv.Delete(ctx, k) == nil {
			n++
		}
	}
	keys, err = s.kv.List(ctx, s.prefix+"req", true)
	if err != nil && !kv.IsNotExist(err) {
		return n, err
	}
	for _, k := range keys {
		if !isOurRecord(k, 32) {
			continue
		}
		var a authRequest
		if err := s.load(ctx, k, &a); err == nil {
			pendingLive := !a.Coded && now.Sub(time.Unix(a.Created, 0)) <= authRequestTTL
			grantLive := a.Coded && now.Unix() < a.SIDExp
			if pendingLive || grantLive {
				continue
			}
		} else if errors.Is(err, errStoreDown) {
			continue
		}
		if s.kv.Delete(ctx, k) == nil {
			n++
		}
	}
	return n, nil
}

// isOurRecord reports whether key names a record this storage writes: its last element n
// lowercase hex digits (a request id, a code's hash). Anything else under the folder is left
// alone: Caddy's file storage writes each record to a temporary file beside it (digits only)
// and renames it, and deleting that file mid-write failed the request being saved.
func isOurRecord(key string, n int) bool {
	name := key[strings.LastIndexByte(key, '/')+1:]
	if len(name) != n {
		return false
	}
	_, err := hex.DecodeString(name)
	return err == nil && strings.ToLower(name) == name
}

var (
	_ op.Storage                        = (*opStorage)(nil)
	_ op.CanSetUserinfoFromRequest      = (*opStorage)(nil)
	_ op.CanTerminateSessionFromRequest = (*opStorage)(nil)
	_ op.AuthRequest                    = (*authRequest)(nil)
	_ op.RefreshTokenRequest            = (*refreshRequest)(nil)
)
