package keys

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// RemoteOptions configures a Remote JWK Set.
type RemoteOptions struct {
	// URL is the JWK Set's address: https, or http to a loopback host only.
	URL string
	// Refresh is the time between two scheduled fetches (default 1h); after a failed fetch the
	// next comes sooner (see firstRetry).
	Refresh time.Duration
	// MinRefetch is the least time between two fetches triggered by unknown kids (default 30s).
	MinRefetch time.Duration
	Timeout    time.Duration // per fetch, default 10s
	MaxBytes   int64         // body cap, default 1 MiB
	Allowed    []string      // algorithm allow-list passed to Restrict
	Client     *http.Client  // default: a client with Timeout that follows no redirect
	Logger     *zap.Logger
}

// Defaults for RemoteOptions.
const (
	DefaultRefresh    = time.Hour
	DefaultMinRefetch = 30 * time.Second
	DefaultTimeout    = 10 * time.Second
	DefaultMaxBytes   = 1 << 20
)

// After a failed fetch the next one comes sooner than Refresh: firstRetry, doubling each time,
// up to Refresh or maxRetry, whichever is less, so a JWKS endpoint that was down at start-up is
// picked up within minutes even with a long Refresh.
const (
	firstRetry = 5 * time.Second
	maxRetry   = 5 * time.Minute
)

// Remote is a JWK Set fetched from a URL in the background: once at Start (without blocking the
// caller), then every Refresh, and again on an unknown kid (rate limited). A failed fetch keeps
// the last good keys (stale-if-error). Until the first success Current returns an empty set, so
// requests are refused (fail closed) rather than start-up being blocked.
//
// A fetched set must be a JWK Set of public keys: a set with a private or a symmetric key, a body
// over MaxBytes, a status other than 200 or a redirect is a failed fetch.
type Remote struct {
	opts   RemoteOptions
	url    string // the URL without its password, if any, for logs
	origin string // "jwks_url " + url, the Origin of fetched keys
	client *http.Client
	log    *zap.Logger

	set atomic.Pointer[Set]

	ctx    context.Context // canceled by Stop; bounds every fetch
	cancel context.CancelFunc
	stopCh chan struct{}
	wg     sync.WaitGroup // the refresh loop and fetches in flight

	mu          sync.Mutex // guards what follows
	started     bool
	stopped     bool
	inflight    *fetchCall // the fetch under way, which new callers join
	lastAttempt time.Time
	lastSuccess time.Time
	lastErr     error
}

// fetchCall is one fetch that any number of callers may wait for.
type fetchCall struct {
	done chan struct{}
	ok   bool // set before done is closed
}

var (
	_ Provider  = (*Remote)(nil)
	_ Refresher = (*Remote)(nil)
)

// NewRemote validates opts (https, or http only to a loopback host) and returns a stopped Remote.
func NewRemote(opts RemoteOptions) (*Remote, error) {
	u, err := checkURL(opts.URL)
	if err != nil {
		return nil, err
	}
	if opts.Refresh < 0 || opts.MinRefetch < 0 || opts.Timeout < 0 || opts.MaxBytes < 0 {
		return nil, fmt.Errorf("jwks_url %s: refresh, minimum refetch interval, timeout and size cap must not be negative", u.Redacted())
	}
	if err := CheckAlgorithms(opts.Allowed); err != nil {
		return nil, fmt.Errorf("jwks_url %s: %w", u.Redacted(), err)
	}
	if opts.Refresh == 0 {
		opts.Refresh = DefaultRefresh
	}
	if opts.MinRefetch == 0 {
		opts.MinRefetch = DefaultMinRefetch
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxBytes == 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	r := &Remote{
		opts:   opts,
		url:    u.Redacted(),
		origin: "jwks_url " + u.Redacted(),
		client: opts.Client,
		log:    opts.Logger,
		stopCh: make(chan struct{}),
	}
	if r.client == nil {
		r.client = &http.Client{
			Timeout: opts.Timeout,
			// A redirect answers with its 3xx status, which fetch refuses: the key set comes from
			// the configured URL only, never from wherever a response points.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if r.log == nil {
		r.log = zap.NewNop()
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.set.Store(emptySet)
	return r, nil
}

// checkURL accepts an absolute https URL, or http to a loopback host (a local test issuer or a
// sidecar), where the traffic cannot be read or changed on the network.
func checkURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("jwks_url is not a valid URL: %v", err)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("jwks_url %s: must be an absolute https:// URL", u.Redacted())
	}
	switch u.Scheme {
	case "https":
		return u, nil
	case "http":
		if isLoopback(u.Hostname()) {
			return u, nil
		}
		return nil, fmt.Errorf("jwks_url %s: use https; plain http is allowed only to a loopback host "+
			"(127.0.0.1, ::1, localhost), since keys fetched in the clear could be replaced on the way", u.Redacted())
	}
	return nil, fmt.Errorf("jwks_url %s: scheme %q is not supported; use https", u.Redacted(), u.Scheme)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Start begins fetching in the background; it never blocks. Calling it again, or after Stop,
// does nothing.
func (r *Remote) Start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started || r.stopped {
		return
	}
	r.started = true
	r.wg.Add(1)
	go r.loop()
}

// Stop ends background fetching, cancels a fetch in flight and waits for them to finish. It may
// be called more than once. The last keys stay available through Current.
func (r *Remote) Stop() {
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		return
	}
	r.stopped = true
	r.cancel()
	close(r.stopCh)
	r.mu.Unlock()
	r.wg.Wait()
}

// Current implements Provider. It returns an empty set until the first successful fetch.
func (r *Remote) Current() *Set { return r.set.Load() }

// LastError is the error of the latest fetch, nil when it succeeded or none has ended yet.
func (r *Remote) LastError() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastErr
}

// LastSuccess is when a fetch last succeeded; the zero time if none has.
func (r *Remote) LastSuccess() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastSuccess
}

// RefreshFor implements Refresher. When kid is not in the current set it fetches again, unless a
// fetch began less than MinRefetch ago; callers arriving while a fetch is in flight wait for that
// one instead of starting another. It waits for the fetch or ctx, whichever ends first, and
// reports whether the fetch loaded a new set.
func (r *Remote) RefreshFor(ctx context.Context, kid string) bool {
	if r.Current().HasID(kid) {
		return false
	}
	c := r.begin(false)
	if c == nil {
		return false
	}
	select {
	case <-c.done:
		return c.ok
	case <-ctx.Done():
		return false
	}
}

// loop fetches at start, then every Refresh, and sooner after a failure.
func (r *Remote) loop() {
	defer r.wg.Done()
	var retry time.Duration
	for {
		next := r.opts.Refresh
		if c := r.begin(true); c != nil {
			select {
			case <-c.done:
			case <-r.stopCh:
				return
			}
			if !c.ok {
				retry = nextRetry(retry, r.opts.Refresh)
				next = retry
			} else {
				retry = 0
			}
		}
		t := time.NewTimer(next)
		select {
		case <-t.C:
		case <-r.stopCh:
			t.Stop()
			return
		}
	}
}

// nextRetry is the wait after another failed fetch.
func nextRetry(prev, refresh time.Duration) time.Duration {
	limit := min(refresh, maxRetry)
	if prev == 0 {
		return min(firstRetry, limit)
	}
	return min(2*prev, limit)
}

// begin returns the fetch in flight, or starts one. Unless force is set, it starts none (and
// returns nil) when the last one began less than MinRefetch ago. After Stop it returns nil.
func (r *Remote) begin(force bool) *fetchCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return nil
	}
	if r.inflight != nil {
		return r.inflight
	}
	if !force && !r.lastAttempt.IsZero() && time.Since(r.lastAttempt) < r.opts.MinRefetch {
		return nil
	}
	c := &fetchCall{done: make(chan struct{})}
	r.inflight = c
	r.lastAttempt = time.Now()
	r.wg.Add(1)
	go r.run(c)
	return c
}

// run performs c and publishes its outcome.
func (r *Remote) run(c *fetchCall) {
	defer r.wg.Done()
	set, err := r.fetch()

	r.mu.Lock()
	if err == nil {
		r.set.Store(set)
		r.lastSuccess = time.Now()
	}
	r.lastErr = err
	r.inflight = nil
	c.ok = err == nil
	stopped := r.stopped
	r.mu.Unlock()

	// Only the URL and the error are logged: the error texts of this package never hold key
	// material, and the body is never logged. A fetch cut short by Stop is not worth a warning.
	switch {
	case err == nil:
		r.log.Debug("fetched JWK Set", zap.String("url", r.url), zap.Int("keys", set.Len()))
	case !stopped:
		r.log.Warn("cannot fetch JWK Set; keeping the last good keys", zap.String("url", r.url), zap.Error(err))
	}
	close(c.done)
}

// fetch GETs the set once and parses it.
func (r *Remote) fetch() (*Set, error) {
	ctx, cancel := context.WithTimeout(r.ctx, r.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.opts.URL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// Drain a little so the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			return nil, fmt.Errorf("HTTP status %d: redirects are not followed; configure the final URL", resp.StatusCode)
		}
		return nil, fmt.Errorf("HTTP status %d; expected 200", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, r.opts.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading the response: %w", err)
	}
	if int64(len(body)) > r.opts.MaxBytes {
		return nil, fmt.Errorf("JWK Set is larger than %d bytes", r.opts.MaxBytes)
	}
	ks, err := parseJWKS(body, "", false)
	if err != nil {
		return nil, err
	}
	if ks, err = Restrict(ks, r.opts.Allowed); err != nil {
		return nil, err
	}
	for _, k := range ks {
		k.Origin = r.origin
	}
	return NewSet(ks...), nil
}
