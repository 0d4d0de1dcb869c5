package caddyauth

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/cors"
	"github.com/gatehouse-dev/gatehouse/internal/kv"
	"github.com/gatehouse-dev/gatehouse/internal/mint"
	"github.com/gatehouse-dev/gatehouse/internal/users"
	"github.com/gatehouse-dev/gatehouse/issuer"
)

// issuerCore is one issuer of a configuration, built once by the gatehouse app from its
// IssuerConfig and shared by every jwt_issuer handler that serves it: the users, the key ring,
// the revocation store and the login limits. Each handler adds its mount (base path) and its
// own issuer.Handler on top.
type issuerCore struct {
	name string
	cfg  *IssuerConfig
	// cfgJSON is cfg as configured (without Source), to tell a second handler's inline
	// settings apart.
	cfgJSON []byte
	refs    int // handlers holding the core; the app's own issuers hold one more

	users                         users.Authenticator
	ring                          *mint.Ring
	minter                        *mint.Minter
	state                         *issuerState // the revocations, limits and key ring storage
	ipLimit, userIPLimit, userLim issuer.Limit
	session                       *issuer.SessionConfig
	factors                       *issuer.FactorConfig // nil without second_factor
	cors                          *cors.Policy
	logger                        *zap.Logger
}

// buildIssuer checks cfg and builds the issuer named name on storage, counting its store
// operations and key rotations on reg (none when nil).
func buildIssuer(ctx context.Context, storage kv.Storage, name string, cfg *IssuerConfig, logger *zap.Logger, reg *prometheus.Registry) (_ *issuerCore, err error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	raw, err := cfg.settingsJSON()
	if err != nil {
		return nil, err
	}
	c := &issuerCore{name: name, cfg: cfg, cfgJSON: raw, logger: logger}
	access, refresh := time.Duration(cfg.AccessTTL), time.Duration(cfg.RefreshTTL)
	if access == 0 {
		access = defaultAccessTTL
	}
	if refresh == 0 {
		refresh = defaultRefreshTTL
	}
	if c.users, err = cfg.authenticator(logger); err != nil {
		return nil, err
	}
	if c.state, err = cfg.openState(storage, name, logger, reg); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			c.state.close()
		}
	}()
	lctx, cancel := context.WithTimeout(ctx, provisionTimeout)
	defer cancel()
	rotations, err := newRotationCounter(reg, name)
	if err != nil {
		return nil, err
	}
	if c.ring, err = cfg.loadRing(lctx, c.state.storage, storagePrefix(name), max(access, refresh), logger, rotations); err != nil {
		return nil, err
	}
	if c.minter, err = mint.NewMinter(mint.Config{
		Issuer:      cfg.Issuer,
		Audience:    cfg.Audiences,
		AccessTTL:   access,
		RefreshTTL:  refresh,
		UserIDClaim: cfg.UserIDClaim,
		// The factor pages act on a session as its user: the refresh token names them.
		RefreshUsername: cfg.SecondFactor != nil,
	}, c.ring); err != nil {
		return nil, err
	}
	if ll := cfg.LoginLimit; ll == nil || !ll.Off {
		n, per := defaultLoginAttempts, defaultLoginWindow
		if ll != nil && ll.Attempts > 0 {
			n = ll.Attempts
		}
		if ll != nil && ll.Per > 0 {
			per = time.Duration(ll.Per)
		}
		perUser := defaultPerUserFactor * n
		if ll != nil && ll.PerUser > 0 {
			perUser = ll.PerUser
		}
		c.ipLimit = c.state.limit("client_ip", n, per)
		c.userIPLimit = c.state.limit("username_client_ip", n, per)
		c.userLim = c.state.limit("username", perUser, per)
	}
	if cfg.Session != nil {
		if c.session, err = cfg.Session.config(); err != nil {
			return nil, err
		}
	}
	if cfg.CORS != nil {
		if c.cors, err = cfg.CORS.policy(); err != nil {
			return nil, err
		}
	}
	if cfg.SecondFactor != nil {
		if c.factors, err = cfg.openFactors(ctx, c.state.storage, name, c.users); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// handlerConfig is the issuer.Config of a handler serving the issuer at base.
func (c *issuerCore) handlerConfig(base string, logger *zap.Logger) issuer.Config {
	cfg := issuer.Config{
		Users:         c.users,
		Ring:          c.ring,
		Minter:        c.minter,
		Store:         c.state.revocations,
		RotateRefresh: c.cfg.RotateRefresh,
		Issuer:        c.cfg.Issuer,
		Audience:      c.cfg.Audiences,
		ClientIP:      clientIP,
		BasePath:      base,
		Realm:         c.cfg.Realm,
		Logger:        logger,
		CORS:          c.cors,
		Session:       c.session,
		Factors:       c.factors,
	}
	if c.ipLimit != nil {
		cfg.IPLimit, cfg.UserIPLimit, cfg.UserLimit = c.ipLimit, c.userIPLimit, c.userLim
	}
	if c.cfg.Provider != nil {
		cfg.Provider = c.cfg.Provider.config(c.cfg, c.state.storage, c.name)
	}
	return cfg
}

// maintain rotates and drops keys and purges expired revocations. Failures are logged: the keys
// in memory keep working, and a purge not done now is done next time.
func (c *issuerCore) maintain(ctx context.Context) {
	if err := c.ring.Maintain(ctx); err != nil && ctx.Err() == nil {
		c.logger.Error("signing key maintenance failed", zap.String("issuer", c.name), zap.Error(err))
	}
	if n, err := c.state.revocations.Purge(ctx); err != nil && ctx.Err() == nil {
		c.logger.Error("purging expired revocations failed", zap.String("issuer", c.name), zap.Error(err))
	} else if n > 0 {
		c.logger.Debug("purged expired revocations", zap.String("issuer", c.name), zap.Int("entries", n))
	}
	if c.factors != nil {
		if n, err := c.factors.Store.Purge(ctx); err != nil && ctx.Err() == nil {
			c.logger.Error("purging expired login challenges failed", zap.String("issuer", c.name), zap.Error(err))
		} else if n > 0 {
			c.logger.Debug("purged expired login challenges", zap.String("issuer", c.name), zap.Int("entries", n))
		}
	}
}

// acquireIssuer returns the issuer named name, building it on first use from inline (a
// handler's settings) or from the app's Issuers, and the function that releases it again.
func (a *App) acquireIssuer(ctx context.Context, storage kv.Storage, name string, inline *IssuerConfig, logger *zap.Logger) (*issuerCore, func(), error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	global := a.Issuers[name]
	if global != nil && inline != nil {
		return nil, nil, fmt.Errorf("issuer %s is configured in the gatehouse global options, and here again: "+
			"serve it with `jwt_issuer <matcher> %s` and no settings, or give this one another name", name, name)
	}
	c := a.cores[name]
	if c == nil {
		cfg := inline
		if cfg == nil {
			cfg = global
		}
		if cfg == nil {
			return nil, nil, fmt.Errorf("no issuer named %s: configure it in the gatehouse global options (issuer %s { ... }), or give its settings here", name, name)
		}
		var err error
		if c, err = buildIssuer(ctx, storage, name, cfg, logger, a.ctx.GetMetricsRegistry()); err != nil {
			// At the place of the settings: a jwt_issuer's, or the global option's issuer.
			return nil, nil, withSource(cfg.Source, err)
		}
		a.cores[name] = c
	} else if inline != nil {
		raw, err := inline.settingsJSON()
		if err != nil {
			return nil, nil, err
		}
		if string(raw) != string(c.cfgJSON) && name == defaultIssuer {
			return nil, nil, fmt.Errorf("two jwt_issuer handlers without a name configure the default issuer differently: " +
				"give each site's jwt_issuer a name of its own (e.g. `name shop` and `name admin`); keys, revocations and sessions are kept per name")
		}
		if string(raw) != string(c.cfgJSON) {
			return nil, nil, fmt.Errorf("issuer %s is configured twice with different settings: "+
				"configure it once (in the gatehouse global options, to serve it in several places), or give each its own name", name)
		}
	}
	c.refs++
	released := false
	return c, func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		if released {
			return
		}
		released = true
		if c.refs--; c.refs == 0 {
			if a.cores[name] == c {
				delete(a.cores, name)
			}
			c.state.close()
		}
	}, nil
}

// maintainIssuers runs every issuer's maintenance every maintainEvery, until ctx ends.
func (a *App) maintainIssuers(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(maintainEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		a.mu.Lock()
		cores := make([]*issuerCore, 0, len(a.cores))
		for _, c := range a.cores {
			cores = append(cores, c)
		}
		a.mu.Unlock()
		for _, c := range cores {
			c.maintain(ctx)
		}
	}
}
