package issuer

import (
	"context"
	"crypto/sha256"
	"errors"
	"math"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/limit"
	"github.com/gatehouse-dev/gatehouse/internal/mint"
	"github.com/gatehouse-dev/gatehouse/internal/revoke"
	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/token"
	"github.com/gatehouse-dev/gatehouse/internal/users"
	"github.com/gatehouse-dev/gatehouse/internal/verify"
)

// jwksMaxAge is how long clients may cache jwks.json. Keys rotate, and a rotated-in key is
// published a few minutes before it signs (mint.Ring), so the cache must be short; verifiers
// also fetch again when they meet an unknown kid.
const jwksMaxAge = 300

// maxNumericDate bounds the exp of a presented token: beyond 2^53 seconds a float64 no longer
// holds whole seconds (and the time is meaningless anyway).
const maxNumericDate = 1 << 53

// obtain trades a username and password for a token pair (simplejwt's TokenObtainPairView).
// A form post from another site's page is refused first, without counting against anyone's
// limit. Every attempt then counts against the client IP's limit before the body is read, and
// a wrong password against the limits of the username from that IP and of the username from
// anywhere (see authenticate), so that neither a flood from one client, nor a slow guess at
// one account from many clients gets far, and yet one client cannot lock a user out.
func (h *Handler) obtain(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	access, refresh, p := h.obtainPair(r)
	// Counted before the answer goes out: a client holding its answer finds it counted.
	h.events.Login(loginOutcome(p), time.Since(start))
	if p != nil {
		h.fail(w, p)
		return
	}
	h.write(w, http.StatusOK, tokenBody("refresh", refresh.Raw, "access", access.Raw))
}

// obtainPair decides a JSON login: the token pair, or the problem to answer.
func (h *Handler) obtainPair(r *http.Request) (access, refresh mint.Token, p *problem) {
	if origin, ok := h.crossSiteForm(r); ok {
		h.log.Debug("login refused", zap.String("reason", "cross-site form post"), zap.String("origin", clip(origin)),
			zap.String("client_ip", h.clientIP(r)))
		return access, refresh, crossSiteProblem(origin)
	}
	ip := h.clientIP(r)
	if p := h.allowFrom(r.Context(), ip); p != nil {
		return access, refresh, p
	}
	f, p := readFields(r)
	if p == nil {
		var vals []string
		if vals, p = f.charFields("username", "password"); p == nil {
			return h.authenticate(r.Context(), ip, vals[0], vals[1])
		}
	}
	h.log.Debug("login refused", zap.String("reason", "bad request"), zap.String("client_ip", ip))
	return access, refresh, p
}

// allowFrom counts a login attempt against the client IP's limit; the problem to answer when it
// is over the limit, or when the limit cannot be counted (a shared store that is down: 503).
func (h *Handler) allowFrom(ctx context.Context, ip string) *problem {
	if h.ipLimit == nil {
		return nil
	}
	ok, wait, err := h.ipLimit.Allow(ctx, ip)
	switch {
	case err != nil:
		h.log.Debug("login refused: the login limit cannot be counted", zap.String("limit", "client_ip"), zap.Error(err))
		return problemUnavailable
	case !ok:
		h.log.Debug("login throttled", zap.String("limit", "client_ip"), zap.String("client_ip", ip))
		return throttled(wait)
	}
	return nil
}

// crossSiteForm reports whether r is a login another site's page could have made a visitor's
// browser send: an Origin header that is not this site's nor a trusted one, on a body that is
// not JSON. Browsers send such bodies (forms, text/plain) to any site without a CORS
// preflight, so without this check any web page could spend its visitors' addresses' login
// budget on guesses, or sign them in. A JSON body from another origin needs a preflight,
// which CORS settings answer; a request without Origin is not a browser's cross-site post
// (browsers send Origin with every POST) and goes on: curl, servers, simplejwt clients.
func (h *Handler) crossSiteForm(r *http.Request) (origin string, refused bool) {
	o := r.Header.Values("Origin")
	if len(o) == 0 {
		return "", false
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && mt == "application/json" {
		return "", false
	}
	if len(o) > 1 {
		return strings.Join(o, ", "), true
	}
	return o[0], !h.trustedOrigin(r, o[0])
}

// trustedOrigin reports whether origin is the site's own origin, a session origin, or one the
// CORS policy allows (which may send JSON logins anyway, so forms from it add nothing). Without
// TLS on the request, https://<host> counts as the site's own as well: TLS was ended before
// Caddy, and no other site can serve pages from this host over https.
func (h *Handler) trustedOrigin(r *http.Request, origin string) bool {
	o, err := session.NormalizeOrigin(origin) // "null" and garbage are refused here
	if err != nil {
		return false
	}
	if o == session.SiteOrigin(r) || (h.sessions != nil && slices.Contains(h.sessions.origins, o)) ||
		(h.cors != nil && h.cors.Allows(origin)) {
		return true
	}
	if !session.HTTPS(r) {
		if own, err := session.NormalizeOrigin("https://" + r.Host); err == nil && o == own {
			return true
		}
	}
	return false
}

// authenticate checks a username and password and mints the token pair of a login, for the
// JSON endpoint and the login form alike. Before the check, the attempt must be within the
// username's limit from this IP and the username's ceiling from all IPs; it stays counted
// only when the password turned out wrong (or the user unknown), so that a user who logs in,
// or a check that never ran, uses up nothing. One address guessing at an account is stopped
// by the first limit and does not reach the ceiling, so the user can still log in from
// another address; a guess spread over many addresses is stopped by the ceiling.
func (h *Handler) authenticate(ctx context.Context, ip, username, password string) (access, refresh mint.Token, p *problem) {
	limits := [...]struct {
		lim        Limit
		key, label string
	}{
		{h.userIPLimit, userIPKey(username, ip), "username_client_ip"},
		{h.userLimit, userKey(username), "username"},
	}
	var refunds [len(limits)]func()
	counted := false // whether the attempt keeps counting
	defer func() {
		if !counted {
			for _, f := range refunds {
				if f != nil {
					f()
				}
			}
		}
	}()
	for i, l := range limits {
		if l.lim == nil {
			continue
		}
		f, ok, wait, err := l.lim.Reserve(ctx, l.key)
		if err != nil {
			h.log.Debug("login refused: the login limit cannot be counted", zap.String("limit", l.label), zap.Error(err))
			return access, refresh, problemUnavailable
		}
		if !ok {
			h.log.Debug("login throttled", zap.String("limit", l.label), zap.String("username", username),
				zap.String("client_ip", ip))
			return access, refresh, throttled(wait)
		}
		refunds[i] = f
	}
	// The client rides along in ctx to the hashing gate, which bounds its share of the queue.
	id, err := h.users.Authenticate(limit.WithClient(ctx, ip), username, password)
	switch {
	case err == nil:
	case errors.Is(err, users.ErrInvalid):
		counted = true
		h.log.Debug("login refused", zap.String("reason", "invalid credentials"), zap.String("username", username),
			zap.String("client_ip", ip))
		return access, refresh, problemBadCredentials
	case errors.Is(err, limit.ErrShareExceeded):
		h.log.Debug("login throttled", zap.String("limit", "logins_in_progress"), zap.String("client_ip", ip))
		return access, refresh, throttled(limit.BusyRetry)
	case errors.Is(err, limit.ErrQueueFull):
		h.log.Warn("login refused: the login queue is full", zap.String("client_ip", ip))
		return access, refresh, problemBusy
	case errors.Is(err, users.ErrUnavailable):
		h.log.Warn("login failed: the credential check is unavailable", zap.Error(err))
		return access, refresh, problemUnavailable
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		h.log.Debug("login abandoned", zap.String("client_ip", ip), zap.Error(err))
		return access, refresh, problemUnavailable
	default:
		// An answer the Authenticator contract does not allow: never a login (fail closed).
		h.log.Error("login failed: unexpected error from the credential check", zap.Error(err))
		return access, refresh, problemUnavailable
	}
	access, refresh, err = h.minter.Pair(id)
	if err != nil {
		// The user's claims (configured, or from credentials_url) cannot make a token: a
		// configuration problem the operator must fix. The error names claims, never values.
		h.log.Error("login failed: cannot mint tokens", zap.Error(err))
		return access, refresh, problemServerError
	}
	return access, refresh, nil
}

// userIPKey is the per-(username, client IP) limiter key: the username as userKey folds it,
// and the IP, hashed together (length-prefixed, so no two pairs share a key).
func userIPKey(username, ip string) string {
	h := sha256.New()
	u := strings.ToLower(username)
	h.Write([]byte(strconv.Itoa(len(u)) + ":" + u + ip))
	return string(h.Sum(nil))
}

// userKey is the per-username limiter key: case-folded, so that case variants of a name share
// one budget, and hashed, so that a key costs the same small memory however long the name.
func userKey(username string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(username)))
	return string(sum[:])
}

// refresh trades a refresh token for an access token (simplejwt's TokenRefreshView); with
// rotation, also for the refresh token's successor, and the presented one is used up.
func (h *Handler) refresh(w http.ResponseWriter, r *http.Request) {
	t, p := h.presented(r, "refresh", "refresh", h.refreshTokens)
	var access, next mint.Token
	if p == nil {
		access, next, p = h.renew(r.Context(), "refresh", t, 0)
	}
	h.events.Refresh(refreshOutcome(p, next.Raw != ""))
	switch {
	case p != nil:
		h.fail(w, p)
	case next.Raw == "":
		h.write(w, http.StatusOK, tokenBody("access", access.Raw))
	default:
		h.write(w, http.StatusOK, tokenBody("access", access.Raw, "refresh", next.Raw))
	}
}

// renew mints the access token of a verified refresh token and, with rotation, the refresh
// token's successor, using the presented one up. next is zero without rotation.
func (h *Handler) renew(ctx context.Context, endpoint string, t *presentedToken, grace time.Duration) (access, next mint.Token, p *problem) {
	access, err := h.minter.Access(t.claims)
	if err != nil {
		h.refuse(endpoint, "cannot mint from the token", err)
		return access, next, problemInvalidToken
	}
	if !h.rotate {
		return access, next, nil
	}
	// Mint first, then use the token up: minting cannot fail on storage, so a token is never
	// spent on an answer that is then not given.
	if next, err = h.minter.Rotate(t.claims); err != nil {
		h.refuse(endpoint, "cannot rotate the token", err)
		return access, mint.Token{}, problemInvalidToken
	}
	if err := h.store.RotateWithin(ctx, t.jti, t.family, t.exp, grace); err != nil {
		// The store logs reuse as a security event, with the family id.
		return access, mint.Token{}, h.storeProblem(endpoint, err)
	}
	return access, next, nil
}

// verify says whether a token is valid (simplejwt's TokenVerifyView): any token type, and a
// refresh token must not be blacklisted.
func (h *Handler) verify(w http.ResponseWriter, r *http.Request) {
	if _, p := h.presented(r, "verify", "token", h.anyTokens); p != nil {
		h.fail(w, p)
		return
	}
	h.write(w, http.StatusOK, bodyEmpty)
}

// blacklist revokes a refresh token (simplejwt's TokenBlacklistView) and its whole family.
func (h *Handler) blacklist(w http.ResponseWriter, r *http.Request) {
	t, p := h.presented(r, "blacklist", "refresh", h.refreshTokens)
	if p == nil {
		p = h.revoke(r.Context(), "blacklist", t)
	}
	h.events.Logout(logoutOutcome(p))
	if p != nil {
		h.fail(w, p)
		return
	}
	h.write(w, http.StatusOK, bodyEmpty)
}

// jwks serves the public JWK Set ({"keys":[]} for an HMAC key, whose secret is never published).
func (h *Handler) jwks(w http.ResponseWriter) {
	body := h.ring.JWKS()
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	hd.Set("Cache-Control", "public, max-age="+strconv.Itoa(jwksMaxAge))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// presentedToken is a verified token and the ids the store knows it by.
type presentedToken struct {
	claims *token.Claims
	jti    string
	family string // refresh tokens: the fam claim, or the jti for a token without one
	exp    time.Time
}

// presented reads the token in the body field name and checks it. The refusals are simplejwt's.
func (h *Handler) presented(r *http.Request, endpoint, name string, v *verify.Verifier) (*presentedToken, *problem) {
	f, p := readFields(r)
	if p != nil {
		return nil, p
	}
	vals, p := f.charFields(name)
	if p != nil {
		return nil, p
	}
	return h.check(r.Context(), endpoint, vals[0], v)
}

// check verifies raw with v and, for a refresh token, checks that the store has not revoked it.
func (h *Handler) check(ctx context.Context, endpoint, raw string, v *verify.Verifier) (*presentedToken, *problem) {
	c, err := v.Verify(ctx, raw)
	if err != nil {
		var ve *verify.Error
		if errors.As(err, &ve) && ve.Reason == verify.ReasonTokenType {
			h.refuse(endpoint, string(ve.Reason), nil)
			return nil, problemWrongType
		}
		h.refuse(endpoint, "token refused", err)
		return nil, problemInvalidToken
	}
	// simplejwt's Token.verify requires a jti of every token: the blacklist is kept by it.
	jti, ok := c.Get("jti")
	if !ok {
		h.refuse(endpoint, "token has no jti", nil)
		return nil, problemNoID
	}
	if jti.Kind != token.String || jti.Text == "" {
		h.refuse(endpoint, "jti is not a non-empty string", nil)
		return nil, problemInvalidToken
	}
	t := &presentedToken{claims: c, jti: jti.Text}
	if tt, ok := c.Get("token_type"); !ok || tt.Kind != token.String || tt.Text != "refresh" {
		return t, nil // not a refresh token: nothing in the store is about it
	}
	t.family = t.jti
	if fam, ok := c.Get(mint.FamilyClaim); ok {
		if fam.Kind != token.String || fam.Text == "" {
			h.refuse(endpoint, mint.FamilyClaim+" is not a non-empty string", nil)
			return nil, problemInvalidToken
		}
		t.family = fam.Text
	}
	exp, _ := c.Get("exp") // a number: the verifier requires it
	if exp.Num > maxNumericDate {
		h.refuse(endpoint, "exp is out of range", nil)
		return nil, problemInvalidToken
	}
	t.exp = time.Unix(int64(math.Ceil(exp.Num)), 0)
	if err := h.store.Check(ctx, t.jti, t.family); err != nil {
		return nil, h.storeProblem(endpoint, err)
	}
	// A user whose sessions were revoked (`caddy gatehouse revoke --user`) since this token
	// was issued: its id is the user id claim's text, as the command takes it.
	if uid, ok := c.Get(h.minter.UserIDClaim()); ok && uid.Text != "" {
		iat := time.Time{}
		if v, ok := c.Get("iat"); ok && v.Kind == token.Number && v.Num >= 0 && v.Num <= maxNumericDate {
			iat = time.Unix(int64(v.Num), 0)
		}
		if err := h.store.CheckUser(ctx, uid.Text, iat); err != nil {
			return nil, h.storeProblem(endpoint, err)
		}
	}
	return t, nil
}

// storeProblem is the answer to a store error: a revoked or reused token is blacklisted, a token
// whose ids the store cannot keep (a foreign token sharing the key) is invalid, and anything
// else is a storage failure, which fails closed with 503.
func (h *Handler) storeProblem(endpoint string, err error) *problem {
	switch {
	case errors.Is(err, revoke.ErrReused):
		h.refuse(endpoint, "token is blacklisted", err)
		return problemReused // the answer of problemBlacklisted, told apart for the events
	case errors.Is(err, revoke.ErrRevoked):
		h.refuse(endpoint, "token is blacklisted", err)
		return problemBlacklisted
	case errors.Is(err, revoke.ErrInvalidID):
		h.refuse(endpoint, "token ids are not valid", err)
		return problemInvalidToken
	}
	if errors.Is(err, context.Canceled) {
		h.log.Debug("request abandoned", zap.String("endpoint", endpoint), zap.Error(err))
	} else {
		h.log.Error("revocation storage failed; refusing (fail closed)", zap.String("endpoint", endpoint), zap.Error(err))
	}
	return problemUnavailable
}

// refuse logs a refused token at debug level: the reason, never the token.
func (h *Handler) refuse(endpoint, reason string, err error) {
	if ce := h.log.Check(zap.DebugLevel, "token refused"); ce != nil {
		fs := []zap.Field{zap.String("endpoint", endpoint), zap.String("reason", reason)}
		if err != nil {
			fs = append(fs, zap.Error(err))
		}
		ce.Write(fs...)
	}
}
