package issuer

import (
	"bytes"
	"errors"
	"html/template"
	"net/http"
	"strconv"

	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/factor"
	"github.com/gatehouse-dev/gatehouse/internal/mint"
	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// The second factor's pages, under the issuer's base path.
const (
	// verifyPath asks for the second factor of a login whose password was right.
	verifyPath = "/login/verify"
	// factorsPath shows a user's factors and enrols new ones (from a session, or during a
	// login that must enrol one).
	factorsPath      = "/factors"
	totpPath         = "/factors/totp"
	totpConfirmPath  = "/factors/totp/confirm"
	challengeCookie  = "gatehouse_factor"
	msgCodeWrong     = "That code is not right, or was used already. Enter the current code of your authenticator app."
	msgChallengeGone = "This sign-in has expired or was used already. Sign in again with your password."
	msgNoSession     = "You are not signed in. Sign in first, then set up a second factor."
	msgEnrol         = "This site needs a second factor. Set up an authenticator app to finish signing in."
	msgStartAgain    = "That code is not right, or the setup expired. Start the setup again and enter the code the app shows."
	msgFactorFailed  = "The second factor cannot be checked right now. Try again in a minute."
	msgSessionTooOld = "Your session started before second factors were turned on. Sign out and sign in again first."
)

// factorPageData is what the second factor pages are executed with.
type factorPageData struct {
	// Kind picks the page: verify, factors, totp, recovery or message.
	Kind     string
	Base     string
	Error    string
	Notice   string
	Username string
	// Enrol: a login waiting for its first factor (no session yet).
	Enrol              bool
	TOTP               bool
	RecoveryLeft       int
	Secret, OTPAuthURL string
	// Passkeys: passkeys are on (the page loads webauthn.js); PasskeyCount the user's.
	Passkeys     bool
	PasskeyCount int
	// QR is a data:image/png URL the factor package made (trusted: no user input).
	QR                       template.URL
	Recovery                 []string
	Next, LoginURL, Continue string
}

// factorPage is the built-in page of the second factor: no script, inline styles, the QR code
// as a data: image.
var factorPage = template.Must(template.New("factor").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{if eq .Kind "verify"}}Second factor{{else}}Sign-in security{{end}}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:26rem;margin:4rem auto;padding:0 1rem;color:#222}
h1{font-size:1.5rem}
label{display:block;margin-top:1rem;font-weight:600}
input{display:block;width:100%;box-sizing:border-box;padding:.5rem;margin-top:.25rem;font-size:1rem}
button,.button{display:inline-block;margin-top:1.5rem;padding:.6rem 1.2rem;font-size:1rem}
.error{background:#fde8e8;border:1px solid #c00;padding:.6rem;margin-top:1rem}
.notice{background:#e8f4fd;border:1px solid #06c;padding:.6rem;margin-top:1rem}
code,.secret{font-family:ui-monospace,monospace;word-break:break-all}
ul.codes{font-family:ui-monospace,monospace;columns:2}
</style>
</head>
<body>
<main>
{{if eq .Kind "verify"}}
<h1>Second factor</h1>
{{if .Error}}<p class="error" role="alert" id="error">{{.Error}}</p>{{end}}
<p>Enter the 6-digit code of your authenticator app, or one of your recovery codes.</p>
<form method="post" action="{{.Base}}/login/verify">
<label for="code">Code</label>
<input id="code" name="code" autocomplete="one-time-code" inputmode="numeric" required autofocus>
<button type="submit">Verify</button>
</form>
{{if .PasskeyCount}}<p><button type="button" id="passkey-login" hidden>Use a passkey instead</button></p>{{end}}
{{else if eq .Kind "factors"}}
<h1>Sign-in security</h1>
{{if .Error}}<p class="error" role="alert" id="error">{{.Error}}</p>{{end}}
{{if .Notice}}<p class="notice" id="notice">{{.Notice}}</p>{{end}}
<p>Signed in as <strong id="username">{{.Username}}</strong>.</p>
<h2>Authenticator app</h2>
{{if .TOTP}}<p id="status-totp">On. {{.RecoveryLeft}} recovery codes left.</p>{{else}}<p id="status-totp">Off.</p>{{end}}
<form method="post" action="{{.Base}}/factors/totp">
<button type="submit" id="totp-start">{{if .TOTP}}Replace the authenticator app{{else}}Set up an authenticator app{{end}}</button>
</form>
{{if and .Passkeys (not .Enrol)}}<h2>Passkeys</h2>
<p id="status-passkeys">{{.PasskeyCount}} registered.</p>
<p><button type="button" id="passkey-register" hidden>Add a passkey</button></p>{{end}}
{{if not .Enrol}}<form method="post" action="{{.Base}}/logout"><button type="submit" id="sign-out">Sign out</button></form>{{end}}
{{else if eq .Kind "totp"}}
<h1>Set up an authenticator app</h1>
{{if .Error}}<p class="error" role="alert" id="error">{{.Error}}</p>{{end}}
<p>Scan this code with your authenticator app, or type the key into it.</p>
<p><img id="totp-qr" src="{{.QR}}" width="240" height="240" alt="QR code of the key"></p>
<p>Key: <span class="secret" id="totp-secret">{{.Secret}}</span></p>
<form method="post" action="{{.Base}}/factors/totp/confirm">
<label for="code">The code the app shows now</label>
<input id="code" name="code" autocomplete="one-time-code" inputmode="numeric" required autofocus>
<button type="submit">Turn on</button>
</form>
{{else if eq .Kind "recovery"}}
<h1>Recovery codes</h1>
<p class="notice" id="notice">The authenticator app is on. Keep these recovery codes somewhere safe: each works once, in place of a code, if you lose the app. They are shown only now.</p>
<ul class="codes" id="recovery-codes">{{range .Recovery}}<li>{{.}}</li>{{end}}</ul>
<p><a class="button" id="continue" href="{{.Continue}}">Continue</a></p>
{{else}}
<h1>Sign-in security</h1>
{{if .Error}}<p class="error" role="alert" id="error">{{.Error}}</p>{{end}}
<p><a class="button" id="sign-in" href="{{.LoginURL}}">Sign in</a></p>
{{end}}
{{if .Passkeys}}<p class="error" role="alert" id="passkey-error" hidden></p>
<script src="{{.Base}}/factors/webauthn.js" data-base="{{.Base}}" defer></script>{{end}}
</main>
</body>
</html>
`))

// factorPageCSP is the login page's policy, plus data: images for the QR code.
const factorPageCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// factorPage writes a second factor page with status.
func (s *Sessions) factorPage(w http.ResponseWriter, r *http.Request, status int, d factorPageData) {
	d.Base = s.h.base
	d.Passkeys = s.h.factors.Passkeys
	if d.LoginURL == "" {
		d.LoginURL = s.h.base + session.LoginPath
	}
	var buf bytes.Buffer
	if err := factorPage.Execute(&buf, d); err != nil {
		s.h.log.Error("second factor page template failed", zap.Error(err))
		buf.Reset()
		status = http.StatusInternalServerError
		buf.WriteString("<!DOCTYPE html><title>Error</title><p>The page could not be shown.</p>\n")
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Length", strconv.Itoa(buf.Len()))
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Security-Policy", factorPageCSP)
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	if status == http.StatusUnauthorized {
		hd.Set("WWW-Authenticate", s.h.challenge)
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

// message shows a page with only an error and a link to sign in.
func (s *Sessions) message(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s.factorPage(w, r, status, factorPageData{Kind: "message", Error: msg})
}

// serveFactor routes the second factor's pages; it reports false for a path that is not one.
func (s *Sessions) serveFactor(w http.ResponseWriter, r *http.Request, rest string) bool {
	get := r.Method == http.MethodGet || r.Method == http.MethodHead
	post := r.Method == http.MethodPost
	switch {
	case rest == verifyPath && get:
		s.verifyPage(w, r)
	case rest == verifyPath && post:
		start := s.now()
		outcome := s.verify(w, r)
		s.h.events.Login(outcome, s.now().Sub(start))
	case rest == verifyPath:
		s.h.fail(w, methodNotAllowed(r.Method, "GET, HEAD, POST"))
	case rest == factorsPath && get:
		s.factorsPage(w, r, "")
	case rest == factorsPath:
		s.h.fail(w, methodNotAllowed(r.Method, "GET, HEAD"))
	case rest == totpPath && post:
		s.totpBegin(w, r)
	case rest == totpConfirmPath && post:
		s.totpConfirm(w, r)
	case rest == totpPath || rest == totpConfirmPath:
		s.h.fail(w, methodNotAllowed(r.Method, http.MethodPost))
	default:
		return false
	}
	return true
}

// setChallenge gives the browser the cookie of a login challenge (value "": deletes it).
func (s *Sessions) setChallenge(w http.ResponseWriter, r *http.Request, value string) {
	session.SetScoped(w, r, challengeCookie, value, s.cookiePath(), factor.ChallengeTTL)
}

// cookiePath is the path of the challenge cookie: the issuer's own pages only.
func (s *Sessions) cookiePath() string {
	if s.h.base == "" {
		return "/"
	}
	return s.h.base + "/"
}

// challenge returns the live challenge of r's cookie, and the cookie: one of a password
// step (a passkey login's ceremony names no user yet, and is no challenge here).
func (s *Sessions) challenge(r *http.Request) (*factor.Challenge, string, error) {
	cookie, ok := session.Value(r, challengeCookie)
	if !ok {
		return nil, "", factor.ErrNoChallenge
	}
	c, err := s.h.factors.Store.Challenge(r.Context(), cookie)
	if err == nil && c.Username == "" {
		return nil, "", factor.ErrNoChallenge
	}
	return c, cookie, err
}

// verifyPage serves GET <base>/login/verify: the code form of a live challenge.
func (s *Sessions) verifyPage(w http.ResponseWriter, r *http.Request) {
	c, _, err := s.challenge(r)
	switch {
	case errors.Is(err, factor.ErrUnavailable):
		s.message(w, r, http.StatusServiceUnavailable, msgFactorFailed)
	case err != nil:
		s.message(w, r, http.StatusUnauthorized, msgChallengeGone)
	case c.Enrol:
		http.Redirect(w, r, s.h.base+factorsPath, http.StatusSeeOther)
	default:
		st, err := s.h.factors.Store.Status(r.Context(), c.Username)
		if err != nil {
			s.message(w, r, http.StatusServiceUnavailable, msgFactorFailed)
			return
		}
		s.factorPage(w, r, http.StatusOK, factorPageData{Kind: "verify", PasskeyCount: st.Passkeys})
	}
}

// verify serves POST <base>/login/verify: the code of a live challenge. Right, the challenge is
// used up and the browser gets the session; wrong, it counts against the login limits and the
// challenge (dropped after a few), and the form is shown again.
func (s *Sessions) verify(w http.ResponseWriter, r *http.Request) (outcome string) {
	h := s.h
	if p := s.formGuard(w, r); p != nil {
		return loginOutcome(p)
	}
	ip := h.clientIP(r)
	c, cookie, err := s.challenge(r)
	if err != nil {
		return s.challengeProblem(w, r, err)
	}
	f, p := readFields(r)
	var code string
	if p == nil {
		var vals []string
		if vals, p = f.charFields("code"); p == nil {
			code = vals[0]
		}
	}
	if p != nil {
		s.factorPage(w, r, p.status, factorPageData{Kind: "verify", Error: "Enter the code."})
		return LoginBadRequest
	}
	if p := h.checkCode(r.Context(), ip, c.Username, code, true); p != nil {
		return s.codeRefused(w, r, cookie, p, "verify")
	}
	return s.finish(w, r, cookie, amrPassword, amrOTP)
}

// formGuard refuses a factor form post from another site, over plain http, or over the client
// IP's login limit; it has answered when it returns a problem.
func (s *Sessions) formGuard(w http.ResponseWriter, r *http.Request) *problem {
	h := s.h
	if !s.FromSite(r) {
		h.log.Debug("second factor refused", zap.String("reason", "cross-site request"), zap.String("client_ip", h.clientIP(r)))
		s.message(w, r, http.StatusForbidden, msgCrossSite)
		return &problem{status: http.StatusForbidden}
	}
	if session.Insecure(r) {
		s.message(w, r, http.StatusBadRequest, msgInsecure)
		return &problem{status: http.StatusBadRequest, body: []byte("{}")}
	}
	if p := h.allowFrom(r.Context(), h.clientIP(r)); p != nil {
		s.limitPage(w, r, p)
		return p
	}
	return nil
}

// limitPage shows a throttled or unavailable refusal.
func (s *Sessions) limitPage(w http.ResponseWriter, r *http.Request, p *problem) {
	if p.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(p.retryAfter))
	}
	msg := msgFactorFailed
	if p.status == http.StatusTooManyRequests {
		msg = "Too many sign-in attempts. Try again in " + strconv.Itoa(p.retryAfter) + " seconds."
	}
	s.message(w, r, p.status, msg)
}

// challengeProblem answers a request whose challenge is missing or gone.
func (s *Sessions) challengeProblem(w http.ResponseWriter, r *http.Request, err error) string {
	if errors.Is(err, factor.ErrUnavailable) {
		s.message(w, r, http.StatusServiceUnavailable, msgFactorFailed)
		return LoginUnavailable
	}
	s.setChallenge(w, r, "")
	s.message(w, r, http.StatusUnauthorized, msgChallengeGone)
	return LoginBadFactor
}

// codeRefused answers a refused code: the limits' answer, or the form again (kind) with the
// challenge counted, or dropped and the user sent to sign in again.
func (s *Sessions) codeRefused(w http.ResponseWriter, r *http.Request, cookie string, p *problem, kind string) string {
	if p != problemBadFactor {
		s.limitPage(w, r, p)
		return loginOutcome(p)
	}
	alive, err := s.h.factors.Store.FailChallenge(r.Context(), cookie)
	switch {
	case err != nil:
		s.message(w, r, http.StatusServiceUnavailable, msgFactorFailed)
		return LoginUnavailable
	case !alive:
		s.setChallenge(w, r, "")
		s.message(w, r, http.StatusUnauthorized, msgChallengeGone)
		return LoginBadFactor
	}
	s.factorPage(w, r, http.StatusUnauthorized, factorPageData{Kind: kind, Error: msgCodeWrong})
	return LoginBadFactor
}

// finish ends the challenge of cookie (once: a second request with it gets nothing) and gives
// the browser the session of its user, minted with amr; then sends it on to the challenge's
// next.
func (s *Sessions) finish(w http.ResponseWriter, r *http.Request, cookie string, amr ...string) string {
	access, refresh, next, p := s.endChallenge(r, cookie, amr...)
	if p != nil {
		if p == problemNoChallenge {
			return s.challengeProblem(w, r, factor.ErrNoChallenge)
		}
		s.limitPage(w, r, p)
		return loginOutcome(p)
	}
	s.setChallenge(w, r, "")
	s.cookies.Set(w, r, s.now(), access.Raw, access.Exp, refresh.Raw, refresh.Exp)
	http.Redirect(w, r, next, http.StatusSeeOther)
	return LoginOK
}

// endChallenge uses up the challenge of cookie and mints the session of its user with amr.
func (s *Sessions) endChallenge(r *http.Request, cookie string, amr ...string) (access, refresh mint.Token, next string, p *problem) {
	c, err := s.h.factors.Store.EndChallenge(r.Context(), cookie)
	switch {
	case errors.Is(err, factor.ErrUnavailable):
		return access, refresh, "", problemUnavailable
	case err != nil:
		return access, refresh, "", problemNoChallenge
	}
	id, err := identityOf(c)
	if err != nil {
		s.h.log.Error("second factor: the challenge's identity does not decode", zap.Error(err))
		return access, refresh, "", problemServerError
	}
	access, refresh, p = s.h.mintPair(id, amr...)
	return access, refresh, c.Next, p
}

// factorUser says who the factor pages act for: the user of the session (its refresh cookie),
// or of a login that must enrol its first factor (its challenge). On failure it has answered.
type factorUser struct {
	username string
	// cookie is the challenge's, for a login enrolling (no session yet); "" with a session.
	cookie string
	next   string
}

func (s *Sessions) factorUser(w http.ResponseWriter, r *http.Request) (*factorUser, bool) {
	h := s.h
	if raw, ok := session.Value(r, s.cookies.Refresh); ok {
		t, p := h.check(r.Context(), "factors", raw, h.refreshTokens)
		if p == problemUnavailable {
			s.message(w, r, http.StatusServiceUnavailable, msgFactorFailed)
			return nil, false
		}
		if p == nil {
			if v, ok := t.claims.Get(mint.UsernameClaim); ok && v.Kind == token.String && v.Text != "" {
				return &factorUser{username: v.Text}, true
			}
			s.message(w, r, http.StatusUnauthorized, msgSessionTooOld)
			return nil, false
		}
	}
	c, cookie, err := s.challenge(r)
	switch {
	case errors.Is(err, factor.ErrUnavailable):
		s.message(w, r, http.StatusServiceUnavailable, msgFactorFailed)
		return nil, false
	case err == nil && c.Enrol:
		// A login sent to enrol may only enrol the first factor: once one exists (enrolled
		// meanwhile), the password alone must not replace it.
		st, err := h.factors.Store.Status(r.Context(), c.Username)
		if err != nil {
			s.message(w, r, http.StatusServiceUnavailable, msgFactorFailed)
			return nil, false
		}
		if st.Enrolled() {
			s.setChallenge(w, r, "")
			s.message(w, r, http.StatusUnauthorized, msgChallengeGone)
			return nil, false
		}
		return &factorUser{username: c.Username, cookie: cookie, next: c.Next}, true
	}
	s.message(w, r, http.StatusUnauthorized, msgNoSession)
	return nil, false
}

// factorsPage serves GET <base>/factors: what the user has enrolled, and the way to enrol.
func (s *Sessions) factorsPage(w http.ResponseWriter, r *http.Request, errMsg string) {
	u, ok := s.factorUser(w, r)
	if !ok {
		return
	}
	st, err := s.h.factors.Store.Status(r.Context(), u.username)
	if err != nil {
		s.message(w, r, http.StatusServiceUnavailable, msgFactorFailed)
		return
	}
	d := factorPageData{Kind: "factors", Username: u.username, TOTP: st.TOTP, RecoveryLeft: st.RecoveryLeft, PasskeyCount: st.Passkeys,
		Enrol: u.cookie != "", Error: errMsg}
	if d.Enrol {
		d.Notice = msgEnrol
	}
	status := http.StatusOK
	if errMsg != "" {
		status = http.StatusUnauthorized
	}
	s.factorPage(w, r, status, d)
}

// totpBegin serves POST <base>/factors/totp: a new secret, shown as a QR code and as text,
// pending until a code of it confirms it.
func (s *Sessions) totpBegin(w http.ResponseWriter, r *http.Request) {
	if !s.FromSite(r) {
		s.h.log.Debug("second factor enrolment refused", zap.String("reason", "cross-site request"), zap.String("client_ip", s.h.clientIP(r)))
		s.message(w, r, http.StatusForbidden, msgCrossSite)
		return
	}
	u, ok := s.factorUser(w, r)
	if !ok {
		return
	}
	e, err := s.h.factors.Store.BeginTOTP(r.Context(), u.username, u.username)
	if err != nil {
		s.message(w, r, http.StatusServiceUnavailable, msgFactorFailed)
		return
	}
	s.factorPage(w, r, http.StatusOK, factorPageData{Kind: "totp", Secret: e.Secret, QR: template.URL(e.QR), OTPAuthURL: e.URL})
}

// totpConfirm serves POST <base>/factors/totp/confirm: the first code of the pending secret.
// Right, TOTP is on and the recovery codes are shown, once; during a login, the login then
// completes. Wrong, it counts against the login limits as any code does.
func (s *Sessions) totpConfirm(w http.ResponseWriter, r *http.Request) {
	h := s.h
	if p := s.formGuard(w, r); p != nil {
		return
	}
	u, ok := s.factorUser(w, r)
	if !ok {
		return
	}
	f, p := readFields(r)
	var code string
	if p == nil {
		var vals []string
		if vals, p = f.charFields("code"); p == nil {
			code = vals[0]
		}
	}
	if p != nil {
		s.factorsPage(w, r, "Enter the code the app shows.")
		return
	}
	var recovery []string
	p = h.guardCode(r.Context(), h.clientIP(r), u.username, func() error {
		var err error
		// During a login, never over a factor enrolled meanwhile (by a parallel login).
		recovery, err = h.factors.Store.ConfirmTOTP(r.Context(), u.username, code, u.cookie == "")
		return err
	})
	if p == problemBadFactor {
		if u.cookie != "" {
			if alive, err := h.factors.Store.FailChallenge(r.Context(), u.cookie); err == nil && !alive {
				s.setChallenge(w, r, "")
				s.message(w, r, http.StatusUnauthorized, msgChallengeGone)
				return
			}
		}
		s.factorsPage(w, r, msgStartAgain)
		return
	}
	if p != nil {
		s.limitPage(w, r, p)
		return
	}
	h.log.Info("second factor enrolled", zap.String("factor", "totp"), zap.String("username", u.username))
	d := factorPageData{Kind: "recovery", Recovery: recovery, Continue: h.base + factorsPath}
	if u.cookie != "" {
		// The login that had to enrol completes: the code just given is its second factor.
		access, refresh, next, p := s.endChallenge(r, u.cookie, amrPassword, amrOTP)
		if p != nil {
			d.Continue = h.base + session.LoginPath
		} else {
			s.setChallenge(w, r, "")
			s.cookies.Set(w, r, s.now(), access.Raw, access.Exp, refresh.Raw, refresh.Exp)
			d.Continue = next
		}
	}
	s.factorPage(w, r, http.StatusOK, d)
}
