package issuer

import (
	"bytes"
	"html/template"
	"net/http"
	"strconv"
	"strings"

	"go.uber.org/zap"
)

// LoginPageData is what the login page template is executed with.
type LoginPageData struct {
	// Action is the URL the form posts to (<base>/login).
	Action string
	// Next is where the browser goes after logging in: a path of this site, already checked.
	Next string
	// Username is the name of a failed attempt, to fill in again ("" at first).
	Username string
	// Error says why the last attempt failed; "" at first.
	Error string
	// PasskeyScript is the URL of the script that signs in with a passkey (webauthn.js: it
	// wires a button with id passkey-login and shows errors in id passkey-error), "" when
	// passkeys are off.
	PasskeyScript string
	// Base is the issuer's base path (the script's data-base).
	Base string
}

// defaultLoginPage is the built-in login page: one form, no script, no external assets, styled
// inline (the page's Content-Security-Policy allows nothing else), usable with a screen reader
// and a keyboard.
var defaultLoginPage = template.Must(template.New("login").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in</title>
<style>
body{font-family:system-ui,sans-serif;max-width:22rem;margin:4rem auto;padding:0 1rem;color:#222}
h1{font-size:1.5rem}
label{display:block;margin-top:1rem;font-weight:600}
input{display:block;width:100%;box-sizing:border-box;padding:.5rem;margin-top:.25rem;font-size:1rem}
button{margin-top:1.5rem;padding:.6rem 1.2rem;font-size:1rem}
.error{background:#fde8e8;border:1px solid #c00;padding:.6rem;margin-top:1rem}
</style>
</head>
<body>
<main>
<h1>Sign in</h1>
{{if .Error}}<p class="error" role="alert" id="error">{{.Error}}</p>{{end}}
<form method="post" action="{{.Action}}">
<input type="hidden" name="next" value="{{.Next}}">
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" required autofocus value="{{.Username}}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
{{if .PasskeyScript}}<p><button type="button" id="passkey-login" hidden>Sign in with a passkey</button></p>
<p class="error" role="alert" id="passkey-error" hidden></p>
<script src="{{.PasskeyScript}}" data-base="{{.Base}}" defer></script>{{end}}
</main>
</body>
</html>
`))

// loginPageCSP lets the page post its form to this site and style itself inline, and nothing
// else: no script, no frames around it, no other form target.
const loginPageCSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// passkeyLoginPageCSP is loginPageCSP with the site's own script and fetches, for passkeys.
const passkeyLoginPageCSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// loginPageCSPFor is csp (loginPageCSP or passkeyLoginPageCSP) for a page whose form sends the
// browser on to next: browsers
// apply form-action to the redirect that follows the post too, so an absolute next (a sibling
// site's page, which the return rule allowed) adds its origin, and only that one.
func loginPageCSPFor(csp, next string) string {
	if strings.HasPrefix(next, "/") {
		return csp
	}
	scheme, rest, ok := strings.Cut(next, "://")
	if !ok {
		return csp
	}
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	// Return.Next let through only a host name and a port here; anything else stays 'self'.
	if strings.ContainsAny(authority, " ;,'\"\\") || authority == "" {
		return csp
	}
	return strings.Replace(csp, "form-action 'self'", "form-action 'self' "+strings.ToLower(scheme)+"://"+strings.ToLower(authority), 1)
}

// page writes the login page with status.
func (s *Sessions) page(w http.ResponseWriter, r *http.Request, status int, d LoginPageData) {
	csp := loginPageCSP
	if f := s.h.factors; f != nil && f.Passkeys && f.Directory != nil {
		d.PasskeyScript, d.Base = s.h.base+passkeyScriptPath, s.h.base
		csp = passkeyLoginPageCSP
	}
	var buf bytes.Buffer
	if err := s.tmpl.Execute(&buf, d); err != nil {
		// A user template that fails at run time (it parsed at provision): say so in the log and
		// answer plainly rather than send half a page.
		s.h.log.Error("login page template failed", zap.Error(err))
		buf.Reset()
		status = http.StatusInternalServerError
		buf.WriteString("<!DOCTYPE html><title>Error</title><p>The login page could not be shown.</p>\n")
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Length", strconv.Itoa(buf.Len()))
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Security-Policy", loginPageCSPFor(csp, d.Next))
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
