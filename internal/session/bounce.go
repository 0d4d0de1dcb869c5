package session

import (
	"html"
	"net/http"
	"strconv"
	"strings"
)

// CrossSiteNavigation reports whether r is a browser's top-level navigation started by another
// site (Fetch Metadata: Sec-Fetch-Site cross-site, Sec-Fetch-Mode navigate). The SameSite=Strict
// refresh cookie is not sent with it, so a user following a link from elsewhere after the access
// cookie expired would be asked to log in although the session is alive.
func CrossSiteNavigation(r *http.Request) bool {
	return r.Header.Get("Sec-Fetch-Site") == "cross-site" && r.Header.Get("Sec-Fetch-Mode") == "navigate"
}

// Bounce answers a cross-site navigation with a page that at once opens the same URL again,
// from this site: that second request is same-site, so it carries the refresh cookie and the
// session is renewed (or, without one, the browser is sent to the login page, and no bounce
// follows, as the request is not cross-site). The page has no script; a meta refresh does it.
func Bounce(w http.ResponseWriter, r *http.Request, base string) {
	target := r.RequestURI
	if !strings.HasPrefix(target, "/") {
		target = r.URL.RequestURI()
	}
	target = SafeNext(target, base)
	// Quotes would end the URL inside the refresh value; they are escaped as URL bytes.
	target = strings.NewReplacer(`'`, "%27", `"`, "%22").Replace(target)
	u := html.EscapeString(target)
	body := `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">` +
		`<meta http-equiv="refresh" content="0;url=` + u + `"><title>Opening the page</title></head>` +
		`<body><p><a href="` + u + `">Continue to the page</a></p></body></html>` + "\n"
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "same-origin")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(body))
	}
}
