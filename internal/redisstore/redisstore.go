// Package redisstore keeps an issuer's shared state in Redis, so that several Caddy instances
// behind one load balancer act as one issuer: the signing keys (as a kv.Storage), revoked token
// ids, refresh rotation and families (atomic scripts), and the login limits. It imports no Caddy.
//
// Every key lives under one hash tag, "{<prefix>}:", so that a Redis Cluster keeps them in one
// slot: the scripts touch several keys at once, which a cluster allows only within a slot.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/safeurl"
)

// DefaultPrefix is the key prefix when Config.Prefix is empty.
const DefaultPrefix = "gatehouse"

// Config configures a Store.
type Config struct {
	// URL is the server: redis://[user:password@]host:port/db, rediss:// for TLS, unix:///path
	// for a socket; with master_name=<name> the addresses are Sentinels, and with more addresses
	// (addr=<host:port>, repeated) and no master_name the servers of a Cluster. Plain redis:// is
	// allowed only to a loopback host: the password and every revocation would cross the network
	// in the clear.
	URL string
	// Prefix is put in front of every key (in a hash tag, see the package comment); "" means
	// DefaultPrefix. Instances that share state must share it.
	Prefix string
	// Logger receives the outage and recovery messages; nil means zap.NewNop().
	Logger *zap.Logger
}

// Store is a connection to Redis and the key space under one prefix. Safe for concurrent use.
type Store struct {
	client redis.UniversalClient
	prefix string // "{<prefix>}:"
	log    *zap.Logger
	down   atomic.Bool // the last command failed for want of a server
}

// Open checks cfg and returns a Store. It does not connect: the client connects on first use
// and again after every failure, so a server that comes back needs no reload (see Ping).
func Open(cfg Config) (*Store, error) {
	client, err := newClient(cfg.URL)
	if err != nil {
		return nil, err
	}
	prefix := cfg.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if err := CheckPrefix(prefix); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	return &Store{client: client, prefix: "{" + prefix + "}:", log: log}, nil
}

// newClient makes the client of a URL (see clientOf).
func newClient(raw string) (redis.UniversalClient, error) {
	mk, err := clientOf(raw)
	if err != nil {
		return nil, err
	}
	return mk(), nil
}

// clientOf checks a URL with go-redis's own parsers (one server, Sentinel or Cluster), after the
// cleartext rule, and returns what makes its client: checking a URL starts no client. Its
// errors never repeat the URL, which may hold a password.
func clientOf(raw string) (func() redis.UniversalClient, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return nil, errors.New("the redis URL must look like redis://127.0.0.1:6379/0 or rediss://user:password@host:6380/0")
	}
	switch u.Scheme {
	case "rediss", "unix":
	case "redis":
		hosts := []string{u.Hostname()}
		for _, a := range u.Query()["addr"] {
			h, _, _ := strings.Cut(a, ":")
			hosts = append(hosts, strings.Trim(h, "[]"))
		}
		for _, h := range hosts {
			if !safeurl.LoopbackHost(h) {
				return nil, errors.New("plain redis:// is allowed only to a loopback host (127.0.0.1, ::1, localhost); use rediss:// (TLS)")
			}
		}
	default:
		return nil, fmt.Errorf("the redis URL scheme %q is not redis, rediss or unix", u.Scheme)
	}
	q := u.Query()
	// A server that is down should cost a request a quick 503, not go-redis's default of three
	// retries with backoffs up to half a second each; a URL may still say otherwise.
	retries := func(n *int, maxBackoff *time.Duration) {
		if !q.Has("max_retries") {
			*n = 1
		}
		if !q.Has("max_retry_backoff") {
			*maxBackoff = 50 * time.Millisecond
		}
	}
	switch {
	case q.Has("master_name"):
		o, err := redis.ParseFailoverURL(raw)
		if err != nil {
			return nil, fmt.Errorf("the redis Sentinel URL does not parse: %s", scrub(err, u))
		}
		retries(&o.MaxRetries, &o.MaxRetryBackoff)
		return func() redis.UniversalClient { return redis.NewFailoverClient(o) }, nil
	case q.Has("addr"):
		o, err := redis.ParseClusterURL(raw)
		if err != nil {
			return nil, fmt.Errorf("the redis Cluster URL does not parse: %s", scrub(err, u))
		}
		retries(&o.MaxRetries, &o.MaxRetryBackoff)
		return func() redis.UniversalClient { return redis.NewClusterClient(o) }, nil
	}
	o, err := redis.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("the redis URL does not parse: %s", scrub(err, u))
	}
	retries(&o.MaxRetries, &o.MaxRetryBackoff)
	return func() redis.UniversalClient { return redis.NewClient(o) }, nil
}

// scrub is err's text with u's password taken out.
func scrub(err error, u *url.URL) string {
	s := err.Error()
	if p, ok := u.User.Password(); ok && p != "" {
		s = strings.ReplaceAll(s, p, "***")
	}
	return s
}

// Redacted is the URL as it may be logged: without its password.
func Redacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable redis URL)"
	}
	return u.Redacted()
}

// Ping checks that the server answers.
func (s *Store) Ping(ctx context.Context) error {
	return s.observe(s.client.Ping(ctx).Err())
}

// Close closes the connections.
func (s *Store) Close() error { return s.client.Close() }

// key is the full key of name (already namespaced by the caller).
func (s *Store) key(name string) string { return s.prefix + name }

// observe passes err through, logging once when the server stops answering and once when it
// answers again: an outage is one line, not one per request. redis.Nil (no such key) is an
// answer.
func (s *Store) observe(err error) error {
	if err == nil || errors.Is(err, redis.Nil) {
		if s.down.CompareAndSwap(true, false) {
			s.log.Info("redis store reachable again; logins, refreshes and logouts work again")
		}
		return err
	}
	if errors.Is(err, context.Canceled) {
		return err // the client went away; says nothing about the server
	}
	var rerr redis.Error
	if errors.As(err, &rerr) {
		return err // the server answered with an error: it is up
	}
	if s.down.CompareAndSwap(false, true) {
		s.log.Error("redis store unreachable: logins, refreshes and logouts answer 503 until it is back; verification of access tokens goes on",
			zap.Error(err))
	}
	return err
}

// CheckPrefix checks a key prefix: the braces of the hash tag are the package's, and a space
// would make a key some tools split.
func CheckPrefix(p string) error {
	if strings.ContainsAny(p, "{} \t") {
		return fmt.Errorf("store prefix %q must not contain braces or spaces", p)
	}
	return nil
}

// CheckURL checks a URL as Open would, without making a client.
func CheckURL(raw string) error {
	_, err := clientOf(raw)
	return err
}
