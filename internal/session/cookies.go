package session

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Cookies names the two cookies of a browser session.
//
// The access cookie is SameSite=Lax, so that a link from another site still opens a page as
// the signed-in user; the refresh cookie is SameSite=Strict, so that no request started by
// another site ever carries the long-lived credential. Both are HttpOnly (no script reads them)
// and Path=/: jwt_auth renews the session in-line, on whichever protected path the request is
// for, which is what keeps a request and its body when the access token has expired; in
// exchange jwt_auth removes the refresh cookie from every request before it goes on.
//
// With Domain set (a session's cookie_domain), both are sent to every host under that domain,
// so that one login covers sibling sites; otherwise they are host-only.
type Cookies struct {
	Access, Refresh string
	Domain          string
}

// Set adds the Set-Cookie headers of a new or renewed session to w: the access cookie, and the
// refresh cookie unless refresh is "". Each lives as long as its token (Max-Age, so that a
// browser drops an expired token instead of sending it).
func (c Cookies) Set(w http.ResponseWriter, r *http.Request, now time.Time, access string, accessExp time.Time, refresh string, refreshExp time.Time) {
	sec := secure(r)
	add(w, c.Access, access, c.Domain, maxAge(accessExp, now), http.SameSiteLaxMode, sec)
	if refresh != "" {
		add(w, c.Refresh, refresh, c.Domain, maxAge(refreshExp, now), http.SameSiteStrictMode, sec)
	}
}

// Clear adds the Set-Cookie headers that delete both cookies (the same attributes, Max-Age=0).
// With Domain, host-only cookies of the same names are deleted too: a browser that logged in
// before cookie_domain was set still holds them, and would otherwise send each name twice.
func (c Cookies) Clear(w http.ResponseWriter, r *http.Request) {
	sec := secure(r)
	add(w, c.Access, "", c.Domain, -1, http.SameSiteLaxMode, sec)
	add(w, c.Refresh, "", c.Domain, -1, http.SameSiteStrictMode, sec)
	if c.Domain != "" {
		add(w, c.Access, "", "", -1, http.SameSiteLaxMode, sec)
		add(w, c.Refresh, "", "", -1, http.SameSiteStrictMode, sec)
	}
}

// maxAge is the seconds from now to exp, rounded up so that a token's cookie lives as long as
// the configured lifetime says (exp is in whole seconds, now is not); at least 1, as 0 would
// mean "delete". A cookie that outlives its token by a fraction of a second is harmless: the
// expired token is renewed like a missing one.
func maxAge(exp, now time.Time) int {
	return max(1, int((exp.Sub(now)+time.Second-1)/time.Second))
}

// SetScoped adds the Set-Cookie header of a short-lived, HttpOnly, SameSite=Strict cookie for
// path only (value "" deletes it), Secure as the session cookies are: the issuer's second factor
// challenge, which only its own pages under path read. It has no Domain: it stays on the host
// that set it, the login site, even with a cookie domain.
func SetScoped(w http.ResponseWriter, r *http.Request, name, value, path string, maxAge time.Duration) {
	age := int(maxAge / time.Second)
	if value == "" || age <= 0 {
		age = -1
	}
	addAt(w, name, value, path, "", age, http.SameSiteStrictMode, secure(r))
}

func add(w http.ResponseWriter, name, value, domain string, maxAge int, same http.SameSite, secure bool) {
	addAt(w, name, value, "/", domain, maxAge, same, secure)
}

func addAt(w http.ResponseWriter, name, value, path, domain string, maxAge int, same http.SameSite, secure bool) {
	c := &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     path,
		Domain:   domain,
		MaxAge:   maxAge, // negative: "Max-Age=0", delete now
		HttpOnly: true,
		Secure:   secure || strings.HasPrefix(name, "__Secure-") || strings.HasPrefix(name, "__Host-"),
		SameSite: same,
	}
	w.Header().Add("Set-Cookie", c.String())
	// A page that sets or clears credentials must not be kept by a shared cache.
	w.Header().Set("Cache-Control", "no-store")
}

// Value returns the value of the cookie name in r when r sends it exactly once. A name sent
// twice (a sibling subdomain can plant a second cookie of the same name) is ambiguous, so
// neither copy is used.
func Value(r *http.Request, name string) (string, bool) {
	cs := r.CookiesNamed(name)
	if len(cs) != 1 || cs[0].Value == "" {
		return "", false
	}
	return cs[0].Value, true
}

// Strip removes the cookie name from r's Cookie headers, keeping the other cookies as they
// were sent, and reports whether it was there. jwt_auth strips the refresh cookie so that no
// upstream ever receives the session's long-lived credential.
func Strip(r *http.Request, name string) bool {
	lines := r.Header["Cookie"]
	found := false
	kept := lines[:0:0]
	for _, line := range lines {
		if !strings.Contains(line, name) {
			kept = append(kept, line)
			continue
		}
		var b strings.Builder
		for part := range strings.SplitSeq(line, ";") {
			n, _, _ := strings.Cut(part, "=")
			if strings.TrimSpace(n) == name {
				found = true
				continue
			}
			if strings.TrimSpace(part) == "" {
				continue
			}
			if b.Len() > 0 {
				b.WriteString("; ")
			}
			b.WriteString(strings.TrimSpace(part))
		}
		if b.Len() > 0 {
			kept = append(kept, b.String())
		}
	}
	if !found {
		return false
	}
	if len(kept) == 0 {
		delete(r.Header, "Cookie")
	} else {
		r.Header["Cookie"] = kept
	}
	return true
}

// CheckCookieName returns an error unless name can be a cookie name (an RFC 6265 token).
func CheckCookieName(name string) error {
	if name == "" {
		return errors.New("a cookie name must not be empty")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= 0x20 || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return fmt.Errorf("cookie name %q may hold only letters, digits and !#$%%&'*+-.^_`|~", name)
		}
	}
	return nil
}
