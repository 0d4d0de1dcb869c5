package caddyauth

import (
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddyserver/caddy/v2"

	"github.com/gatehouse-dev/gatehouse/internal/keys"
	"github.com/gatehouse-dev/gatehouse/internal/kv"
	"github.com/gatehouse-dev/gatehouse/issuer"
)

// testApp stands in for the gatehouse app in unit tests whose caddy.Context has no
// configuration to load one into: every handler such a test provisions registers with it, in
// the site nil, as handlers at the top level of one JSON configuration would. Handlers that a
// real (in-process) Caddy provisions get that configuration's own app.
var testApp = newApp()

func init() {
	fromConfig := loadApp
	loadApp = func(ctx caddy.Context) (*App, error) {
		if hasConfig(ctx) {
			return fromConfig(ctx)
		}
		return testApp, nil
	}
}

// hasConfig reports whether ctx belongs to a loaded configuration: without one, caddy.Context
// panics when asked for its storage.
func hasConfig(ctx caddy.Context) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	_ = ctx.Storage()
	return true
}

// staticProvider is an issuer's keys in these tests: one HMAC key.
func staticProvider(t testing.TB, secret string) keys.Provider {
	t.Helper()
	k, err := keys.FromSecret([]byte(secret), "test")
	if err != nil {
		t.Fatal(err)
	}
	return keys.Static{Set: keys.NewSet(k)}
}

// Two sites of one configuration, as two site blocks' subroutes are.
type siteA struct{ _ int }
type siteB struct{ _ int }

// TestAppTrustsOwnSiteOnly: a jwt_auth without key settings trusts the issuers of its own site,
// never another site's; issuer_names reaches across sites, and only to the issuers named.
func TestAppTrustsOwnSiteOnly(t *testing.T) {
	app := newApp()
	a, b := &siteA{}, &siteB{}
	keyA, keyB := staticProvider(t, testSecret), staticProvider(t, strings.Repeat("b", 32))
	if _, err := app.registerIssuer(&issuerEntry{name: "shop", site: a, base: "/api/token", keys: keyA}); err != nil {
		t.Fatal(err)
	}
	if _, err := app.registerIssuer(&issuerEntry{name: "admin", site: b, base: "/api/token", keys: keyB}); err != nil {
		t.Fatal(err)
	}
	st := app.state.Load()

	for _, tt := range []struct {
		name  string
		trust trust
		want  []keys.Provider
	}{
		{"site A", trust{site: a, keys: true}, []keys.Provider{keyA}},
		{"site B", trust{site: b, keys: true}, []keys.Provider{keyB}},
		{"a site without an issuer", trust{site: &siteA{}, keys: true}, nil},
		{"site A naming admin", trust{site: a, names: []string{"admin"}, keys: true}, []keys.Provider{keyB}},
		{"naming both", trust{site: a, names: []string{"shop", "admin"}, keys: true}, []keys.Provider{keyA, keyB}},
	} {
		got := st.resolve(tt.trust).keys.Current()
		var want []*keys.Key
		for _, p := range tt.want {
			want = append(want, p.Current().Keys()...)
		}
		if got.Len() != len(want) {
			t.Errorf("%s: %d keys trusted, want %d", tt.name, got.Len(), len(want))
			continue
		}
		for i, k := range got.Keys() {
			if k != want[i] {
				t.Errorf("%s: key %d is not the expected issuer's", tt.name, i)
			}
		}
	}
}

// TestAppSessionsOfOwnSite: session <base> finds the issuer at that base in the handler's own
// site, not the last one registered anywhere; with issuer_names, among the named ones.
func TestAppSessionsOfOwnSite(t *testing.T) {
	app := newApp()
	a, b := &siteA{}, &siteB{}
	sa, sb := new(issuer.Sessions), new(issuer.Sessions)
	for _, e := range []*issuerEntry{
		{name: "a", site: a, base: "/api/token", keys: keys.NewMulti(), sessions: sa},
		{name: "b", site: b, base: "/api/token", keys: keys.NewMulti(), sessions: sb},
	} {
		if _, err := app.registerIssuer(e); err != nil {
			t.Fatal(err)
		}
	}
	st := app.state.Load()
	if got := st.resolve(trust{site: a, session: "/api/token"}).sessions; got != sa {
		t.Error("site A's jwt_auth uses another site's sessions")
	}
	if got := st.resolve(trust{site: &siteA{}, session: "/api/token"}).sessions; got != nil {
		t.Error("a site without an issuer uses another site's sessions")
	}
	if got := st.resolve(trust{site: a, names: []string{"b"}, session: "/api/token"}).sessions; got != sb {
		t.Error("issuer_names b does not give b's sessions")
	}
	if got := st.resolve(trust{site: a, session: "/other"}).sessions; got != nil {
		t.Error("a session at another base path was used")
	}
}

// TestAppUnnamedIssuersInOneSite: unnamed issuers share storage paths, so a second site with one
// is refused with what to change; several mounts in one site are fine.
func TestAppUnnamedIssuersInOneSite(t *testing.T) {
	app := newApp()
	a, b := &siteA{}, &siteB{}
	for range 2 {
		if _, err := app.registerIssuer(&issuerEntry{name: defaultIssuer, inline: true, site: a, keys: keys.NewMulti()}); err != nil {
			t.Fatalf("two unnamed issuers in one site: %v", err)
		}
	}
	if _, err := app.registerIssuer(&issuerEntry{name: "named", inline: true, site: b, keys: keys.NewMulti()}); err != nil {
		t.Fatalf("a named issuer in another site: %v", err)
	}
	if _, err := app.registerIssuer(&issuerEntry{name: defaultIssuer, site: b, keys: keys.NewMulti()}); err != nil {
		t.Fatalf("the default issuer of the global options served in another site: %v", err)
	}
	_, err := app.registerIssuer(&issuerEntry{name: defaultIssuer, inline: true, site: b, keys: keys.NewMulti()})
	if err == nil || !strings.Contains(err.Error(), "give each site's jwt_issuer a name") {
		t.Fatalf("an unnamed issuer in a second site: %v", err)
	}
}

// TestAppBindingFollowsChanges: a jwt_auth resolves again when the app's issuers change (an
// issuer unregistered by its Cleanup is no longer trusted), and keeps its binding otherwise.
func TestAppBindingFollowsChanges(t *testing.T) {
	app := newApp()
	j := &issuerLink{app: app, trust: trust{keys: true}}
	if j.binding().found {
		t.Fatal("an empty app has an issuer")
	}
	unregister, err := app.registerIssuer(&issuerEntry{keys: staticProvider(t, testSecret)})
	if err != nil {
		t.Fatal(err)
	}
	b := j.binding()
	if !b.found || b.keys.Current().Len() != 1 {
		t.Fatal("a registered issuer is not trusted")
	}
	if j.binding() != b {
		t.Fatal("resolved again although nothing changed")
	}
	unregister()
	unregister() // Caddy may clean up twice
	if j.binding().found || (issuerKeys{j}).Current().Len() != 0 {
		t.Fatal("an unregistered issuer is still trusted")
	}
}

// TestAppRetiredKeepsIssuers: once Caddy has stopped the app (a reload: the old configuration's
// requests may still be in flight), an issuer's Cleanup leaves it trusted, so those requests
// are not refused.
func TestAppRetiredKeepsIssuers(t *testing.T) {
	app := newApp()
	j := &issuerLink{app: app, trust: trust{keys: true}}
	unregister, err := app.registerIssuer(&issuerEntry{keys: staticProvider(t, testSecret)})
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Start(); err != nil {
		t.Fatal(err)
	}
	if err := app.Stop(); err != nil {
		t.Fatal(err)
	}
	unregister()
	if b := j.binding(); !b.found || b.keys.Current().Len() != 1 {
		t.Fatal("a retired app's issuer is no longer trusted after its Cleanup")
	}
}

// TestAppStartChecks: at start, an issuer_names entry no issuer has is an error that says what
// to do; a jwt_auth left without any issuer is a warning (its tokens are refused).
func TestAppStartChecks(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	app := newApp()
	app.logger = zap.New(core)
	if _, err := app.registerIssuer(&issuerEntry{name: "shop", keys: keys.NewMulti()}); err != nil {
		t.Fatal(err)
	}
	typo := &JWTAuth{link: &issuerLink{trust: trust{names: []string{"shpo"}, keys: true}}}
	app.registerAuth(typo)
	err := app.Start()
	if err == nil || !strings.Contains(err.Error(), "no jwt_issuer named shpo") {
		t.Fatalf("unknown issuer name: %v", err)
	}

	app = newApp()
	app.logger = zap.New(core)
	app.registerAuth(&JWTAuth{link: &issuerLink{trust: trust{site: &siteA{}, keys: true, session: "/api/token"}}})
	if err := app.Start(); err != nil {
		t.Fatal(err)
	}
	if logs.FilterMessageSnippet("jwt_auth has no key settings and no jwt_issuer is loaded in its site").Len() != 1 ||
		logs.FilterMessageSnippet("jwt_auth session names no jwt_issuer").Len() != 1 {
		t.Fatalf("warnings: %v", logs.All())
	}
}

// BenchmarkIssuerKeysCurrent is the per-request cost of a zero-config jwt_auth's key lookup with
// two issuers in its site (a merged set, resolved once).
func BenchmarkIssuerKeysCurrent(b *testing.B) {
	app := newApp()
	for _, s := range []string{testSecret, strings.Repeat("b", 32)} {
		if _, err := app.registerIssuer(&issuerEntry{keys: staticProvider(b, s)}); err != nil {
			b.Fatal(err)
		}
	}
	p := issuerKeys{&issuerLink{app: app, trust: trust{keys: true}}}
	b.ReportAllocs()
	for b.Loop() {
		if p.Current().Len() != 2 {
			b.Fatal("keys missing")
		}
	}
}

// TestAppIssuerBuiltOnce: handlers serving one name share one issuer (users, keys, limits), built
// from the first one's settings or from the app's Issuers; settings that differ, or settings
// given in both places, are refused with what to change; the last release drops the issuer.
func TestAppIssuerBuiltOnce(t *testing.T) {
	ctx := t.Context()
	storage := kv.NewMemory()
	cfg := func() *IssuerConfig {
		return &IssuerConfig{Users: testUsers(), SigningKey: &SigningKey{Source: keySecret, Secret: testSecret}}
	}
	app := newApp()
	app.Issuers = map[string]*IssuerConfig{"home": cfg()}
	first, releaseFirst, err := app.acquireIssuer(ctx, storage, "shop", cfg(), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	second, releaseSecond, err := app.acquireIssuer(ctx, storage, "shop", cfg(), zap.NewNop())
	if err != nil || second != first {
		t.Fatalf("the same settings twice: %v, shared %v", err, second == first)
	}
	other := cfg()
	other.RotateRefresh = true
	if _, _, err := app.acquireIssuer(ctx, storage, "shop", other, zap.NewNop()); err == nil || !strings.Contains(err.Error(), "configured twice with different settings") {
		t.Errorf("other settings under the same name: %v", err)
	}
	home, releaseHome, err := app.acquireIssuer(ctx, storage, "home", nil, zap.NewNop())
	if err != nil || home.cfg != app.Issuers["home"] {
		t.Fatalf("serving a global issuer: %v", err)
	}
	releaseHome()
	if _, _, err := app.acquireIssuer(ctx, storage, "home", cfg(), zap.NewNop()); err == nil || !strings.Contains(err.Error(), "configured in the gatehouse global options, and here again") {
		t.Errorf("settings for a global issuer: %v", err)
	}
	if _, _, err := app.acquireIssuer(ctx, storage, "nowhere", nil, zap.NewNop()); err == nil || !strings.Contains(err.Error(), "no issuer named nowhere") {
		t.Errorf("an issuer configured nowhere: %v", err)
	}
	releaseFirst()
	releaseFirst() // released once only
	if app.cores["shop"] != first {
		t.Fatal("dropped while a handler still serves it")
	}
	releaseSecond()
	if app.cores["shop"] != nil {
		t.Fatal("kept after the last handler let go")
	}
}
