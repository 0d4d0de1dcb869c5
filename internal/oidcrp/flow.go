package oidcrp

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/session"
)

// flow is one login in progress at the provider, kept in the browser that started it (the flow
// cookie, AES-256-GCM under a key only this site has): what binds the provider's answer to that
// browser. A server-side store would need sharing between replicas; a cookie needs none.
type flow struct {
	State       string `json:"s"`
	Nonce       string `json:"n"`
	Verifier    string `json:"v"` // the PKCE code verifier
	RedirectURI string `json:"r"`
	Next        string `json:"x"` // where to go after the login, a path of this site
	Exp         int64  `json:"e"`
}

// maxFlows bounds the flow cookies a browser holds: logins started in several tabs at once each
// have their own, and ones abandoned at the provider linger until they expire; past this many,
// a new login clears the others.
const maxFlows = 10

// flowPrefix starts the name of every flow cookie; flowCookie(state) is the one of a login,
// named after its state, so that logins started in parallel (tabs reopened together after the
// session expired) do not overwrite each other.
func (rp *RP) flowPrefix() string { return rp.cfg.Cookie + "_flow_" }

func (rp *RP) flowCookie(state string) string { return rp.flowPrefix() + state[:16] }

// setFlow adds the flow cookie of f to w: Path the callback, SameSite=Lax (the provider's
// redirect back is a top-level GET from another site, which Lax cookies go with), HttpOnly. A
// browser holding maxFlows flow cookies already has them cleared.
func (rp *RP) setFlow(w http.ResponseWriter, r *http.Request, f *flow) error {
	plain, err := json.Marshal(f)
	if err != nil {
		return err
	}
	aead, err := rp.aead()
	if err != nil {
		return err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	name := rp.flowCookie(f.State)
	if names := rp.flowNames(r); len(names) >= maxFlows {
		for _, old := range names {
			rp.flowHeader(w, r, old, "", -1)
		}
	}
	sealed := aead.Seal(nonce, nonce, plain, []byte(name))
	rp.flowHeader(w, r, name, base64.RawURLEncoding.EncodeToString(sealed), int(flowTTL/time.Second))
	return nil
}

// clearFlow deletes the flow cookie of state: a flow is used once, whatever its outcome.
func (rp *RP) clearFlow(w http.ResponseWriter, r *http.Request, state string) {
	rp.flowHeader(w, r, rp.flowCookie(state), "", -1)
}

func (rp *RP) flowHeader(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	c := &http.Cookie{
		Name: name, Value: value, Path: rp.cfg.CallbackPath, MaxAge: maxAge,
		HttpOnly: true, Secure: session.SecureCookies(r), SameSite: http.SameSiteLaxMode,
	}
	w.Header().Add("Set-Cookie", c.String())
	w.Header().Set("Cache-Control", "no-store")
}

// flowNames lists the names of r's flow cookies.
func (rp *RP) flowNames(r *http.Request) []string {
	var names []string
	for _, c := range r.Cookies() {
		if strings.HasPrefix(c.Name, rp.flowPrefix()) && !slices.Contains(names, c.Name) {
			names = append(names, c.Name)
		}
	}
	return names
}

// readFlow returns the flow of state from r's flow cookie of that name, or nil when there is
// none, it does not open under this site's key, it is for another state or it has expired.
func (rp *RP) readFlow(r *http.Request, state string) *flow {
	if !validState(state) {
		return nil
	}
	name := rp.flowCookie(state)
	raw, ok := session.Value(r, name)
	if !ok || len(raw) > 4096 {
		return nil
	}
	f := rp.openFlow(name, raw)
	if f == nil || subtle.ConstantTimeCompare([]byte(f.State), []byte(state)) != 1 {
		return nil
	}
	return f
}

// otherFlows reports whether r holds a flow cookie, other than the one of state, that opens
// under this site's key: the answer is then for a login this browser did not start (or one it
// finished already), rather than the browser having no login in progress at all.
func (rp *RP) otherFlows(r *http.Request, state string) bool {
	for i, name := range rp.flowNames(r) {
		if i >= maxFlows {
			break
		}
		if validState(state) && name == rp.flowCookie(state) {
			continue
		}
		if raw, ok := session.Value(r, name); ok && len(raw) <= 4096 && rp.openFlow(name, raw) != nil {
			return true
		}
	}
	return false
}

// openFlow decrypts a flow cookie's value (name is its additional data), nil when it does not
// open or has expired.
func (rp *RP) openFlow(name, raw string) *flow {
	sealed, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		return nil
	}
	aead, err := rp.aead()
	if err != nil || len(sealed) < aead.NonceSize() {
		return nil
	}
	plain, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], []byte(name))
	if err != nil {
		return nil
	}
	var f flow
	if json.Unmarshal(plain, &f) != nil || !validState(f.State) || rp.now().Unix() > f.Exp {
		return nil
	}
	return &f
}

// validState reports whether s has the shape of the states randomString makes (43 base64url
// characters), so that it can name a cookie.
func validState(s string) bool {
	if len(s) != 43 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

func (rp *RP) aead() (cipher.AEAD, error) {
	block, err := aes.NewCipher(rp.flowKey)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// randomString returns 32 random bytes, base64url: a state or nonce nobody can guess.
func randomString() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
