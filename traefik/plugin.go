// Package gatehouse is a Traefik middleware plugin that verifies JSON Web Tokens with
// Gatehouse's verifier: the packages jwt_auth runs in Caddy (internal/verify, internal/keys,
// internal/token), vendored from this repository by `go mod vendor`, interpreted by Traefik's
// Yaegi. This package only maps Traefik's configuration onto them and answers as jwt_auth does.
package gatehouse

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"

	"github.com/gatehouse-dev/gatehouse/internal/verify"
)

// Middleware verifies the token of each request and passes verified requests on, with the
// configured claims in request headers.
type Middleware struct {
	next http.Handler
	name string
	*setup
}

// New is the constructor Traefik calls with the decoded configuration. A bad configuration is
// an error that names the key at fault; Traefik logs it and leaves the router out.
func New(ctx context.Context, next http.Handler, config *Config, name string) (http.Handler, error) {
	if config == nil {
		config = CreateConfig()
	}
	s, err := config.build(name)
	if err != nil {
		return nil, fmt.Errorf("gatehouse %s: %v", name, err)
	}
	return &Middleware{next: next, name: name, setup: s}, nil
}

// ServeHTTP removes client-sent identity headers, verifies the token and either refuses the
// request (RFC 6750 401/403, 400 for a token sent twice) or passes it on with the identity
// headers set. A fault of its own is a 500, never a request passed on.
func (m *Middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if m.admit(w, r) {
		m.next.ServeHTTP(w, r)
	}
}

// admit does the checks and reports whether the request may go on; when it may not, the answer
// is written. next is called outside it, so that a panic of the service behind is not taken
// for one of ours.
func (m *Middleware) admit(w http.ResponseWriter, r *http.Request) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			ok = false
			// The value may describe input; only that it happened is logged.
			fmt.Fprintf(os.Stderr, "gatehouse %s: internal error while checking a request; it was refused\n", m.name)
			writeAnswer(w, http.StatusInternalServerError, "", bodyInternal)
		}
	}()
	// Client-sent copies of the identity headers go first, whatever happens next, so a spoofed
	// identity never reaches the service (not on an anonymous or a refused request).
	verify.RemoveHeaders(r.Header, m.headers)
	raw, found, err := m.extractor.Extract(r)
	if err != nil {
		m.refuse(w, verify.AsError(err))
		return false
	}
	if !found {
		if m.optional {
			return true
		}
		m.refuse(w, verify.ErrMissing)
		return false
	}
	claims, err := m.verifier.Verify(r.Context(), raw)
	if err != nil {
		m.refuse(w, verify.AsError(err))
		return false
	}
	if len(m.forward) > 0 {
		// One slice for all the values, each header a piece of it with room for one.
		vals := make([]string, len(m.forward))
		for i := range m.forward {
			verify.ForwardClaim(r.Header, claims, m.forward[i].claim, m.forward[i].header, vals[i:i+1:i+1])
		}
	}
	return true
}

// bodyInternal is the answer to a request the plugin could not check.
var bodyInternal = []byte(`{"detail":"The request could not be checked.","code":"internal_error"}`)

// refuse answers as jwt_auth does without handle_errors: the status and challenge of
// verify.Challenges and simplejwt's JSON body.
func (m *Middleware) refuse(w http.ResponseWriter, e *verify.Error) {
	status, challenge, body := m.challenges.Answer(e)
	writeAnswer(w, status, challenge, body)
}

func writeAnswer(w http.ResponseWriter, status int, challenge string, body []byte) {
	h := w.Header()
	if challenge != "" {
		h.Set("WWW-Authenticate", challenge)
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	// A failed write means the client is gone; there is nobody left to tell.
	_, _ = w.Write(body)
}
