package caddyauth

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2"

	"github.com/gatehouse-dev/gatehouse/internal/kv"
	"github.com/gatehouse-dev/gatehouse/internal/limit"
	"github.com/gatehouse-dev/gatehouse/internal/redisstore"
	"github.com/gatehouse-dev/gatehouse/internal/revoke"
	"github.com/gatehouse-dev/gatehouse/issuer"
)

// revocations is what an issuer keeps its revocations in: revoke.Store on Caddy's storage, or
// redisstore.Revocations. Purge is the maintenance loop's.
type revocations interface {
	issuer.Revocations
	Purge(ctx context.Context) (int, error)
}

// issuerState is where one issuer keeps what its instances share: the key ring's storage, the
// revocations and the login limits, and what to let go of when the issuer is released.
type issuerState struct {
	storage     kv.Storage
	revocations revocations
	// limit returns the limit called label of n events per per.
	limit   func(label string, n int, per time.Duration) issuer.Limit
	release []func()
}

// close lets go of the pooled Redis client and in-memory limits.
func (st *issuerState) close() {
	for _, f := range st.release {
		f()
	}
	st.release = nil
}

// redisStores holds one Redis client per (URL, prefix), shared by the issuers and the
// configurations that use it, so that a reload keeps the connections; the last user closes it.
var redisStores = caddy.NewUsagePool()

type pooledRedis struct{ *redisstore.Store }

// Destruct implements caddy.Destructor.
func (p pooledRedis) Destruct() error { return p.Close() }

// localLimits holds the in-memory limiters by issuer, limit and settings, so that the counts
// survive a reload (a reload is no way around a login limit).
var localLimits = caddy.NewUsagePool()

type pooledLimiter struct{ *limit.Limiter }

// Destruct implements caddy.Destructor.
func (pooledLimiter) Destruct() error { return nil }

// openState opens the state of the issuer named name: in cfg.Store's Redis, or in storage (Caddy's)
// and this process's memory.
func (c *IssuerConfig) openState(storage kv.Storage, name string, logger *zap.Logger) (*issuerState, error) {
	st := &issuerState{}
	if c.Store == nil || c.Store.Redis == "" {
		rs, err := revoke.New(revoke.Config{Storage: storage, Prefix: storagePrefix(name) + "revoke", Logger: logger})
		if err != nil {
			return nil, err
		}
		st.storage, st.revocations = storage, rs
		st.limit = func(label string, n int, per time.Duration) issuer.Limit {
			key := strings.Join([]string{name, label, strconv.Itoa(n), per.String()}, "|")
			v, _, _ := localLimits.LoadOrNew(key, func() (caddy.Destructor, error) {
				return pooledLimiter{limit.NewLimiter(n, per, 0)}, nil
			})
			st.release = append(st.release, func() { _, _ = localLimits.Delete(key) })
			return limit.Local{Limiter: v.(pooledLimiter).Limiter}
		}
		return st, nil
	}
	raw, err := resolvePlaceholders("store redis", c.Store.Redis)
	if err != nil {
		return nil, err
	}
	key := raw + "\x00" + c.Store.Prefix
	v, _, err := redisStores.LoadOrNew(key, func() (caddy.Destructor, error) {
		s, err := redisstore.Open(redisstore.Config{URL: raw, Prefix: c.Store.Prefix, Logger: logger})
		if err != nil {
			return nil, err
		}
		return pooledRedis{s}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("store redis: %w", err)
	}
	st.release = append(st.release, func() { _, _ = redisStores.Delete(key) })
	rs := v.(pooledRedis).Store
	pctx, cancel := context.WithTimeout(context.Background(), provisionTimeout)
	defer cancel()
	if err := rs.Ping(pctx); err != nil {
		st.close()
		return nil, fmt.Errorf("store redis %s does not answer: %w", redisstore.Redacted(raw), err)
	}
	st.storage = rs.Storage(name)
	st.revocations = rs.Revocations(name, logger)
	st.limit = func(label string, n int, per time.Duration) issuer.Limit {
		return rs.Limiter(name, label, n, per)
	}
	return st, nil
}

// checkStore checks the store settings that can be checked without the environment.
func checkStore(s *IssuerStore) error {
	if s == nil {
		return nil
	}
	if s.Redis == "" {
		return errors.New("store needs a backend: store redis <url>")
	}
	if !hasPlaceholder(s.Redis) {
		if err := redisstore.CheckURL(s.Redis); err != nil {
			return fmt.Errorf("store redis: %w", err)
		}
	}
	return redisstore.CheckPrefix(s.Prefix)
}
