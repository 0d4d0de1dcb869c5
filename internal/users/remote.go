package users

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/safeurl"
)

// Bounds on the credential check: an app that does not answer in time, or answers more than
// any claim set needs, is a failed check, never a login.
const (
	defaultRemoteTimeout = 5 * time.Second
	maxRemoteAnswer      = 64 << 10
)

// RemoteConfig configures Remote.
type RemoteConfig struct {
	// URL receives a POST of {"username":"...","password":"..."}: https, or http to a loopback
	// host only (safeurl.Check).
	URL string
	// Timeout bounds each check; 0 means 5s.
	Timeout time.Duration
	// Client is the HTTP client; nil means one that never follows redirects.
	Client *http.Client
}

// Remote delegates the password check to an app server that keeps its own users: 200 with a
// JSON object means yes (the object's members become the user's claims), 401 or 403 means no
// (ErrInvalid), and anything else, a body that is not a JSON object, or a timeout is
// ErrUnavailable, never a login.
type Remote struct {
	url     string
	timeout time.Duration
	client  *http.Client
}

// NewRemote checks the config and returns a Remote.
func NewRemote(cfg RemoteConfig) (*Remote, error) {
	// Errors never quote the URL, which may carry a password or an API key.
	u, err := url.Parse(cfg.URL)
	switch {
	case cfg.URL == "":
		return nil, errors.New("users: no credentials URL")
	case err != nil:
		return nil, errors.New("users: the credentials URL cannot be parsed; write it as https://host/path")
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, errors.New("users: the credentials URL must start with https:// (or http:// to a loopback host)")
	case u.Host == "" || u.Hostname() == "":
		return nil, errors.New("users: the credentials URL has no host; write it as https://host/path")
	case safeurl.Check(u) != nil:
		// The rule jwks_url follows too: the passwords must not cross a network in the clear.
		return nil, errors.New("users: the credentials URL must use https: it is sent every password, which plain http " +
			"would carry in the clear; http is allowed only to a loopback host (127.0.0.1, ::1, localhost), e.g. an app on this machine")
	case cfg.Timeout < 0:
		return nil, errors.New("users: the credentials URL timeout must not be negative")
	}
	r := &Remote{url: u.String(), timeout: cfg.Timeout}
	if r.timeout == 0 {
		r.timeout = defaultRemoteTimeout
	}
	// A copy of the given client, so that never following redirects holds whatever the
	// client was set up to do: a redirect could take the password elsewhere (a 307 replays the
	// body), and a login page answering 200 after one must not count as a yes.
	var c http.Client
	if cfg.Client != nil {
		c = *cfg.Client
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	r.client = &c
	return r, nil
}

// credentials is the body of the check.
type credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// Authenticate implements Authenticator.
func (r *Remote) Authenticate(ctx context.Context, username, password string) (Identity, error) {
	body, err := json.Marshal(credentials{Username: username, Password: password})
	if err != nil { // strings always marshal; fail closed all the same
		return Identity{}, fmt.Errorf("%w: credentials_url: %v", ErrUnavailable, err)
	}
	tctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(tctx, http.MethodPost, r.url, bytes.NewReader(body))
	if err != nil {
		return Identity{}, fmt.Errorf("%w: credentials_url: %v", ErrUnavailable, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return Identity{}, r.failed(ctx, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxRemoteAnswer+1))
	switch {
	case resp.StatusCode == http.StatusUnauthorized, resp.StatusCode == http.StatusForbidden:
		return Identity{}, ErrInvalid // whatever the body says
	case resp.StatusCode != http.StatusOK:
		return Identity{}, fmt.Errorf("%w: credentials_url answered %d, not 200, 401 or 403", ErrUnavailable, resp.StatusCode)
	case err != nil:
		return Identity{}, r.failed(ctx, err)
	case len(answer) > maxRemoteAnswer:
		return Identity{}, fmt.Errorf("%w: credentials_url answered more than %d KiB", ErrUnavailable, maxRemoteAnswer>>10)
	}
	claims, err := claimsObject(answer)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: credentials_url answered 200 with %v", ErrUnavailable, err)
	}
	return Identity{Username: username, Claims: claims}, nil
}

// failed is the error of a check that got no complete answer: the caller's context error when
// the login request went away, else ErrUnavailable with the reason (without the URL).
func (r *Remote) failed(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: credentials_url did not answer within %s", ErrUnavailable, r.timeout)
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	return fmt.Errorf("%w: credentials_url: %v", ErrUnavailable, err)
}

// claimsObject decodes an answer that must be exactly one JSON object. Numbers stay
// json.Number, so that a large user id keeps every digit.
func claimsObject(answer []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(answer))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, errors.New("a body that is not JSON")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("JSON that is not an object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("more than one JSON value")
	}
	if len(obj) == 0 {
		return nil, nil
	}
	return obj, nil
}
