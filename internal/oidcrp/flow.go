package oidcrp

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
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

// flowCookie is the flow cookie's name.
func (rp *RP) flowCookie() string { return rp.cfg.Cookie + "_flow" }

// setFlow adds the flow cookie to w: Path the callback, SameSite=Lax (the provider's redirect
// back is a top-level GET from another site, which Lax cookies go with), HttpOnly.
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
	sealed := aead.Seal(nonce, nonce, plain, []byte(rp.flowCookie()))
	rp.flowHeader(w, r, base64.RawURLEncoding.EncodeToString(sealed), int(flowTTL/time.Second))
	return nil
}

// clearFlow deletes the flow cookie: a flow is used once, whatever its outcome.
func (rp *RP) clearFlow(w http.ResponseWriter, r *http.Request) { rp.flowHeader(w, r, "", -1) }

func (rp *RP) flowHeader(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	c := &http.Cookie{
		Name: rp.flowCookie(), Value: value, Path: rp.cfg.CallbackPath, MaxAge: maxAge,
		HttpOnly: true, Secure: session.SecureCookies(r), SameSite: http.SameSiteLaxMode,
	}
	w.Header().Add("Set-Cookie", c.String())
	w.Header().Set("Cache-Control", "no-store")
}

// readFlow returns the flow of r's flow cookie, or nil when there is none, it does not open
// under this site's key, or it has expired.
func (rp *RP) readFlow(r *http.Request) *flow {
	raw, ok := session.Value(r, rp.flowCookie())
	if !ok || len(raw) > 4096 {
		return nil
	}
	sealed, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		return nil
	}
	aead, err := rp.aead()
	if err != nil || len(sealed) < aead.NonceSize() {
		return nil
	}
	plain, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], []byte(rp.flowCookie()))
	if err != nil {
		return nil
	}
	var f flow
	if json.Unmarshal(plain, &f) != nil || f.State == "" || rp.now().Unix() > f.Exp {
		return nil
	}
	return &f
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
