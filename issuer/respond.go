package issuer

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/limit"
)

// problem is a refused request: its status and JSON body, and the headers some refusals carry.
type problem struct {
	status     int
	body       []byte
	retryAfter int    // seconds; set for 429, and the 503 of a full login queue
	allow      string // set for 405
}

// The fixed refusals. The token ones are djangorestframework-simplejwt's bodies, so a front end
// written against simplejwt handles them unchanged.
var (
	problemNotFound       = &problem{status: http.StatusNotFound, body: []byte(`{"detail":"Not found."}`)}
	problemTooLarge       = detailProblem(http.StatusRequestEntityTooLarge, "Request body too large: the limit is "+strconv.Itoa(maxBody)+" bytes.")
	problemBadCredentials = &problem{status: http.StatusUnauthorized, body: []byte(`{"detail":"No active account found with the given credentials"}`)}
	problemInvalidToken   = &problem{status: http.StatusUnauthorized, body: []byte(`{"detail":"Token is invalid or expired","code":"token_not_valid"}`)}
	problemWrongType      = &problem{status: http.StatusUnauthorized, body: []byte(`{"detail":"Token has wrong type","code":"token_not_valid"}`)}
	problemNoID           = &problem{status: http.StatusUnauthorized, body: []byte(`{"detail":"Token has no id","code":"token_not_valid"}`)}
	problemBlacklisted    = &problem{status: http.StatusUnauthorized, body: []byte(`{"detail":"Token is blacklisted","code":"token_not_valid"}`)}
	problemUnavailable    = &problem{status: http.StatusServiceUnavailable, body: []byte(`{"detail":"Service temporarily unavailable, try again later.","code":"service_unavailable"}`)}
	problemServerError    = &problem{status: http.StatusInternalServerError, body: []byte(`{"detail":"A server error occurred."}`)}
	// problemBusy is a login refused, unhashed, because the login queue is full.
	problemBusy = &problem{status: http.StatusServiceUnavailable, body: problemUnavailable.body, retryAfter: int(limit.BusyRetry / time.Second)}
)

// crossSiteProblem is the refusal of a form post from another site's page to the JSON login:
// DRF's answer to a failed CSRF check, in Django's words for an origin it does not trust.
func crossSiteProblem(origin string) *problem {
	return detailProblem(http.StatusForbidden, "CSRF Failed: Origin checking failed - "+clip(origin)+" does not match any trusted origins.")
}

// bodyEmpty is the answer of verify and blacklist: an empty object, as simplejwt answers.
var bodyEmpty = []byte(`{}`)

// detailProblem is a refusal with body {"detail": detail}.
func detailProblem(status int, detail string) *problem {
	b := append([]byte(`{"detail":`), jsonString(detail)...)
	return &problem{status: status, body: append(b, '}')}
}

// parseProblem is DRF's ParseError: 400 with the detail.
func parseProblem(detail string) *problem { return detailProblem(http.StatusBadRequest, detail) }

// methodNotAllowed is DRF's MethodNotAllowed, with the Allow header.
func methodNotAllowed(method, allow string) *problem {
	p := detailProblem(http.StatusMethodNotAllowed, `Method "`+clip(method)+`" not allowed.`)
	p.allow = allow
	return p
}

// throttled is DRF's Throttled: 429, Retry-After in whole seconds (rounded up), and the wait in
// the detail, singular or plural as DRF words it.
func throttled(wait time.Duration) *problem {
	secs := max(1, int(math.Ceil(wait.Seconds())))
	unit := " seconds."
	if secs == 1 {
		unit = " second."
	}
	p := detailProblem(http.StatusTooManyRequests, "Request was throttled. Expected available in "+strconv.Itoa(secs)+unit)
	p.retryAfter = secs
	return p
}

// fieldError is one field's validation error.
type fieldError struct{ name, msg string }

// fieldProblem is a serializer's ValidationError: 400 with {"<field>":["<message>"],...} in
// field order.
func fieldProblem(errs []fieldError) *problem {
	b := []byte{'{'}
	for i, e := range errs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, jsonString(e.name)...)
		b = append(b, ":["...)
		b = append(b, jsonString(e.msg)...)
		b = append(b, ']')
	}
	return &problem{status: http.StatusBadRequest, body: append(b, '}')}
}

// jsonString encodes s as a JSON string the way DRF's renderer does (no HTML escaping).
func jsonString(s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})
}

// tokenBody is {"<name1>":"<token1>",...}. Compact JWS tokens need no escaping, but they are
// encoded anyway, so a body is valid JSON whatever a signer returned.
func tokenBody(pairs ...string) []byte {
	b := []byte{'{'}
	for i := 0; i < len(pairs); i += 2 {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, jsonString(pairs[i])...)
		b = append(b, ':')
		b = append(b, jsonString(pairs[i+1])...)
	}
	return append(b, '}')
}

// fail writes p.
func (h *Handler) fail(w http.ResponseWriter, p *problem) {
	hd := w.Header()
	if p.retryAfter > 0 {
		hd.Set("Retry-After", strconv.Itoa(p.retryAfter))
	}
	if p.allow != "" {
		hd.Set("Allow", p.allow)
	}
	h.write(w, p.status, p.body)
}

// write answers with a JSON body. Every answer is marked no-store (RFC 6749 section 5.1): token
// answers carry credentials, and refusals must not be replayed from a cache either. A 401
// carries the Bearer challenge.
func (h *Handler) write(w http.ResponseWriter, status int, body []byte) {
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	hd.Set("Cache-Control", "no-store")
	if status == http.StatusUnauthorized {
		hd.Set("WWW-Authenticate", h.challenge)
	}
	w.WriteHeader(status)
	// A failed write means the client is gone; there is nobody left to tell.
	_, _ = w.Write(body)
}
