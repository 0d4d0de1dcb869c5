package keys

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/safeurl"
)

// RemoteOptions configures a Remote JWK Set.
type RemoteOptions struct {
	// URL is the JWK Set's address: https, or http to a loopback host only.
	URL string
	// Refresh is the time between two scheduled fetches (default 1h); after a failed fetch the
	// next comes sooner (see firstRetry).
	Refresh time.Duration
	// MaxRefetchInterval bounds the fetches triggered by unknown kids (default 30s): the first
	// unknown kid is fetched for at once, later ones after waits that double from
	// firstRefetchGap up to MaxRefetchInterval, so that a flood of made-up kids costs the issuer
	// a few fetches a minute at most. The waits start over after 2*MaxRefetchInterval without one.
	MaxRefetchInterval time.Duration
	// RefetchWait is how long RefreshFor waits for a fetch before it gives up (default 2s, and
	// never longer than its ctx): the token that triggered the fetch passes if the issuer answers
	// quickly, and a slow issuer delays no request by more than this. The fetch itself goes on
	// (up to Timeout) and serves the tokens that come after.
	RefetchWait time.Duration
	Timeout     time.Duration // per fetch, default 10s
	MaxBytes    int64         // body cap, default 1 MiB
	Allowed     []string      // algorithm allow-list passed to Restrict
	Client      *http.Client  // default: a client with Timeout that follows no redirect
	Logger      Logger        // default: none
}

// Logger is where a Remote reports fetches and skipped keys, with alternating key and value
// arguments; a *zap.SugaredLogger is one. It is an interface rather than *zap.Logger so that this
// package needs nothing outside the standard library and runs in Traefik's interpreter (Yaegi),
// which cannot load zap.
type Logger interface {
	Debugw(msg string, keysAndValues ...any)
	Warnw(msg string, keysAndValues ...any)
}

// nopLogger is the Logger of a Remote configured without one.
type nopLogger struct{}

func (nopLogger) Debugw(string, ...any) {}
func (nopLogger) Warnw(string, ...any)  {}

// Defaults for RemoteOptions.
const (
	DefaultRefresh            = time.Hour
	DefaultMaxRefetchInterval = 30 * time.Second
	DefaultRefetchWait        = 2 * time.Second
	DefaultTimeout            = 10 * time.Second
	DefaultMaxBytes           = 1 << 20
)

// firstRefetchGap is the wait after the first fetch for an unknown kid before another unknown
// kid may trigger one; it doubles with each such fetch, up to MaxRefetchInterval. With the
// defaults, a flood of unknown kids causes fetches at 0, 5, 15, 35 and 65 s, then every 30 s.
const firstRefetchGap = 5 * time.Second

// After a failed fetch the next one comes sooner than Refresh: firstRetry, doubling each time,
// up to Refresh or maxRetry, whichever is less, so a JWKS endpoint that was down at start-up is
// picked up within minutes even with a long Refresh.
const (
	firstRetry = 5 * time.Second
	maxRetry   = 5 * time.Minute
)

// Remote is a JWK Set fetched from a URL in the background: once at Start (without blocking the
// caller), then every Refresh, and again on an unknown kid (at once, then with a backoff; see
// MaxRefetchInterval). A failed fetch keeps
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
	log    Logger

	set atomic.Value // *Set (see Key.mac for why not atomic.Pointer)
	// fetches and failures count the fetches that ended, and those of them that failed (a fetch
	// cut short by Stop is neither), for RemoteStats; read and written with sync/atomic's
	// functions, not atomic.Uint64, for the same reason.
	fetches, failures uint64

	ctx    context.Context // canceled by Stop; bounds every fetch
	cancel context.CancelFunc
	stopCh chan struct{}
	wg     sync.WaitGroup // the refresh loop and fetches in flight

	mu          sync.Mutex // guards what follows
	started     bool
	stopped     bool
	inflight    *fetchCall // the fetch under way, which new callers join
	lastKid     time.Time  // when the last fetch for an unknown kid began
	kidGap      time.Duration
	lastSuccess time.Time
	lastErr     error
	// skipped holds the skipped keys of the last fetch (see skipKey), so that each is logged
	// once while the issuer keeps publishing it, not on every fetch.
	skipped map[string]struct{}
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
	if opts.Refresh < 0 || opts.MaxRefetchInterval < 0 || opts.RefetchWait < 0 || opts.Timeout < 0 || opts.MaxBytes < 0 {
		return nil, fmt.Errorf("jwks_url %s: refresh, refetch interval and wait, timeout and size cap must not be negative", u.Redacted())
	}
	if err := CheckAlgorithms(opts.Allowed); err != nil {
		return nil, fmt.Errorf("jwks_url %s: %w", u.Redacted(), err)
	}
	if opts.Refresh == 0 {
		opts.Refresh = DefaultRefresh
	}
	if opts.MaxRefetchInterval == 0 {
		opts.MaxRefetchInterval = DefaultMaxRefetchInterval
	}
	if opts.RefetchWait == 0 {
		opts.RefetchWait = DefaultRefetchWait
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
		r.log = nopLogger{}
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
	// The rule credentials_url follows too (package safeurl).
	switch err := safeurl.Check(u); {
	case err == nil:
		return u, nil
	case errors.Is(err, safeurl.ErrCleartext):
		return nil, fmt.Errorf("jwks_url %s: use https; plain http is allowed only to a loopback host "+
			"(127.0.0.1, ::1, localhost), since keys fetched in the clear could be replaced on the way", u.Redacted())
	}
	return nil, fmt.Errorf("jwks_url %s: scheme %q is not supported; use https", u.Redacted(), u.Scheme)
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
func (r *Remote) Current() *Set {
	s, _ := r.set.Load().(*Set)
	return s
}

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

// RemoteStats is what a Remote has done since it was made, for metrics: the adapter reads it
// when scraped, so the counts follow the Remote (which a Caddy reload keeps) rather than one
// configuration's metrics registry, and this package needs no metrics library.
type RemoteStats struct {
	Fetches  uint64    // fetches that ended, successful or not
	Failures uint64    // fetches that failed: unreachable, a status other than 200, a bad set
	Keys     int       // keys in the current set (0 until the first success)
	LastOK   time.Time // when a fetch last succeeded; zero if none has
}

// Stats returns the Remote's counts so far.
func (r *Remote) Stats() RemoteStats {
	return RemoteStats{
		Fetches:  atomic.LoadUint64(&r.fetches),
		Failures: atomic.LoadUint64(&r.failures),
		Keys:     r.Current().Len(),
		LastOK:   r.LastSuccess(),
	}
}

// RefreshFor implements Refresher. When kid is not in the current set it fetches again: at once
// for the first unknown kid, then with the backoff of MaxRefetchInterval (a miss within the
// current wait fetches nothing). Callers arriving while a fetch is in flight, scheduled or not,
// wait for that one instead of starting another. It waits for the fetch, ctx or RefetchWait,
// whichever ends first, and reports whether the fetch loaded a new set.
func (r *Remote) RefreshFor(ctx context.Context, kid string) bool {
	if r.Current().HasID(kid) {
		return false
	}
	c := r.beginForKid(time.Now())
	if c == nil {
		return false
	}
	t := time.NewTimer(r.opts.RefetchWait)
	defer t.Stop()
	select {
	case <-c.done:
		return c.ok
	case <-ctx.Done():
		return false
	case <-t.C:
		return false
	}
}

// loop fetches at start, then every Refresh, and sooner after a failure.
func (r *Remote) loop() {
	defer r.wg.Done()
	var retry time.Duration
	for {
		next := r.opts.Refresh
		if c := r.begin(); c != nil {
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

// begin returns the fetch in flight, or starts one. After Stop it returns nil.
func (r *Remote) begin() *fetchCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.beginLocked()
}

// beginForKid is begin for an unknown kid at now: it joins a fetch in flight, and starts one
// only when the backoff allows (see MaxRefetchInterval); otherwise it returns nil.
func (r *Remote) beginForKid(now time.Time) *fetchCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return nil
	}
	if r.inflight != nil {
		return r.inflight
	}
	if !r.lastKid.IsZero() {
		switch since := now.Sub(r.lastKid); {
		case since >= 2*r.opts.MaxRefetchInterval:
			r.kidGap = 0 // quiet for long enough: the next unknown kid is fetched for at once again
		case since < r.kidGap:
			return nil
		}
	}
	r.kidGap = nextRefetchGap(r.kidGap, r.opts.MaxRefetchInterval)
	r.lastKid = now
	return r.beginLocked()
}

// nextRefetchGap is the wait after another fetch for an unknown kid.
func nextRefetchGap(prev, limit time.Duration) time.Duration {
	if prev == 0 {
		return min(firstRefetchGap, limit)
	}
	return min(2*prev, limit)
}

// beginLocked is begin with r.mu held.
func (r *Remote) beginLocked() *fetchCall {
	if r.stopped {
		return nil
	}
	if r.inflight != nil {
		return r.inflight
	}
	c := &fetchCall{done: make(chan struct{})}
	r.inflight = c
	r.wg.Add(1)
	go r.run(c)
	return c
}

// run performs c and publishes its outcome.
func (r *Remote) run(c *fetchCall) {
	defer r.wg.Done()
	set, skipped, err := r.fetch()

	r.mu.Lock()
	var fresh []Skipped // skipped keys not logged yet
	if err == nil {
		r.set.Store(set)
		r.lastSuccess = time.Now()
		seen := make(map[string]struct{}, len(skipped))
		for _, sk := range skipped {
			id := skipKey(sk)
			if _, logged := r.skipped[id]; !logged {
				fresh = append(fresh, sk)
			}
			seen[id] = struct{}{}
		}
		r.skipped = seen
	}
	r.lastErr = err
	r.inflight = nil
	c.ok = err == nil
	stopped := r.stopped
	if !stopped {
		atomic.AddUint64(&r.fetches, 1)
		if err != nil {
			atomic.AddUint64(&r.failures, 1)
		}
	}
	r.mu.Unlock()

	// A published key that is not used is logged once, with its kid and why, so that refused
	// tokens signed with it are no mystery; never its material.
	for _, sk := range fresh {
		r.log.Warnw("JWK Set key skipped", "url", r.url, "index", sk.Index, "kid", sk.Kid, "reason", sk.Reason)
	}

	// Only the URL and the error are logged: the error texts of this package never hold key
	// material, and the body is never logged. A fetch cut short by Stop is not worth a warning.
	switch {
	case err == nil:
		r.log.Debugw("fetched JWK Set", "url", r.url, "keys", set.Len())
	case !stopped:
		r.log.Warnw("cannot fetch JWK Set; keeping the last good keys", "url", r.url, "error", err)
	}
	close(c.done)
}

// skipKey identifies a skipped key across fetches: its kid (or, without one, its position)
// and the reason.
func skipKey(sk Skipped) string {
	if sk.Kid != "" {
		return "kid " + sk.Kid + "\x00" + sk.Reason
	}
	return fmt.Sprintf("#%d\x00%s", sk.Index, sk.Reason)
}

// fetch GETs the set once and parses it; skipped lists the keys of the set that were passed over.
func (r *Remote) fetch() (set *Set, skipped []Skipped, err error) {
	ctx, cancel := context.WithTimeout(r.ctx, r.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.opts.URL, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// Drain a little so the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			return nil, nil, fmt.Errorf("HTTP status %d: redirects are not followed; configure the final URL", resp.StatusCode)
		}
		return nil, nil, fmt.Errorf("HTTP status %d; expected 200", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, r.opts.MaxBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("reading the response: %w", err)
	}
	if int64(len(body)) > r.opts.MaxBytes {
		return nil, nil, fmt.Errorf("JWK Set is larger than %d bytes", r.opts.MaxBytes)
	}
	ks, skipped, err := parseJWKS(body, "", false)
	if err != nil {
		return nil, nil, err
	}
	if ks, err = Restrict(ks, r.opts.Allowed); err != nil {
		return nil, nil, err
	}
	for _, k := range ks {
		k.Origin = r.origin
	}
	return NewSet(ks...), skipped, nil
}
