package caddyauth

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/gatehouse-dev/gatehouse/internal/kv"
	"github.com/gatehouse-dev/gatehouse/issuer"
)

// IssuerProvider makes the issuer an OpenID Connect provider for other apps (Grafana, Gitea,
// ...): discovery at <issuer>/.well-known/openid-configuration, the authorization code flow
// with PKCE, the token endpoint, userinfo and end_session, under the jwt_issuer's base path.
// The issuer setting is the provider's issuer URL (https://<host><base_path>), and the login is
// the issuer's session, so both are required.
type IssuerProvider struct {
	// The apps that may log their users in here.
	Clients []ProviderClient `json:"clients"`
}

// ProviderClient is one app (relying party) of the provider.
type ProviderClient struct {
	// The client_id.
	ID string `json:"id"`
	// The bcrypt hash of the client secret (make it with `caddy hash-password`); never the
	// secret itself. Required unless public.
	SecretHash string `json:"secret_hash,omitempty"`
	// A client that cannot keep a secret (a single-page or native app): no secret, and PKCE
	// with S256 is required.
	Public bool `json:"public,omitempty"`
	// The redirect URIs, compared exactly (no prefix or pattern). At least one.
	RedirectURIs []string `json:"redirect_uris"`
	// Where end_session may send the browser back to, compared exactly.
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris,omitempty"`
	// The scopes the client may ask for. Default: openid profile email offline_access
	// (offline_access gets refresh tokens).
	Scopes []string `json:"scopes,omitempty"`
	// User claims released to this client in the ID token and userinfo whatever the scopes,
	// e.g. groups or roles; the standard claims come with the profile and email scopes.
	Claims []string `json:"claims,omitempty"`
}

// validate checks the provider settings of c that need no environment.
func (p *IssuerProvider) validate(c *IssuerConfig) error {
	if c.Session == nil {
		return errors.New("provider needs session: the provider's login step is the issuer's login page")
	}
	if c.Issuer == "" {
		return errors.New("provider needs issuer <url>: the provider's issuer identifier, https://<host><base_path>, e.g. issuer https://auth.example.com/auth")
	}
	if _, _, err := issuer.CheckProviderIssuer(c.Issuer); err != nil {
		return err
	}
	if c.signingKey().Source == keySecret {
		return errors.New("provider needs a public-key signing key (signing_key auto or file): apps check ID tokens against the JWKS, which publishes no secret")
	}
	if len(p.Clients) == 0 {
		return errors.New("provider needs at least one client: client <id> { ... }")
	}
	seen := map[string]bool{}
	for i := range p.Clients {
		cl := p.Clients[i].issuerClient()
		if err := issuer.CheckProviderClient(&cl); err != nil {
			return err
		}
		if seen[cl.ID] {
			return fmt.Errorf("client %s is declared twice", cl.ID)
		}
		seen[cl.ID] = true
	}
	return nil
}

func (c *ProviderClient) issuerClient() issuer.ProviderClient {
	return issuer.ProviderClient{
		ID: c.ID, SecretHash: c.SecretHash, Public: c.Public, RedirectURIs: c.RedirectURIs,
		PostLogoutRedirectURIs: c.PostLogoutRedirectURIs, Scopes: c.Scopes, Claims: c.Claims,
	}
}

// config is the issuer.ProviderConfig of the issuer named name, kept in storage.
func (p *IssuerProvider) config(c *IssuerConfig, storage kv.Storage, name string) *issuer.ProviderConfig {
	cfg := &issuer.ProviderConfig{Issuer: c.Issuer, Storage: storage, Prefix: storagePrefix(name) + "oidc/"}
	for i := range p.Clients {
		cfg.Clients = append(cfg.Clients, p.Clients[i].issuerClient())
	}
	return cfg
}

// checkProviderBase checks, for a handler mounted at base, that the provider's issuer URL ends
// in it: the discovery document is served under the base, at <issuer>/.well-known/....
func checkProviderBase(iss, base string) error {
	u, err := url.Parse(iss)
	if err != nil {
		return err
	}
	if strings.TrimSuffix(u.Path, "/") != base {
		return fmt.Errorf("provider: the issuer %s must end in the jwt_issuer's base path %q (mount it at %s/* or set issuer %s://%s%s)",
			iss, base, strings.TrimSuffix(u.Path, "/"), u.Scheme, u.Host, base)
	}
	return nil
}

// parseIssuerProvider parses
//
//	provider {
//	    client <id> {
//	        secret_hash <bcrypt> | public
//	        redirect_uri <uri...>
//	        post_logout_redirect_uri <uri...>
//	        scopes <scope...>
//	        claims <claim...>
//	    }
//	}
//
// Each client is checked when its block ends, the error at its client line.
func parseIssuerProvider(d *caddyfile.Dispenser) (*IssuerProvider, error) {
	if d.NextArg() {
		return nil, takesErr(d, "jwt_issuer", "provider", 1+d.CountRemainingArgs())
	}
	p := new(IssuerProvider)
	ids := map[string]bool{}
	block := newOptionBlock(d, "provider")
	for block.next() {
		if d.Val() != "client" {
			return nil, block.unknown()
		}
		var c ProviderClient
		if !d.AllArgs(&c.ID) {
			return nil, block.argErr()
		}
		if ids[c.ID] {
			return nil, d.Errf("client %s is declared twice", c.ID)
		}
		ids[c.ID] = true
		if err := parseProviderClient(d, &c); err != nil {
			return nil, err
		}
		p.Clients = append(p.Clients, c)
	}
	if len(p.Clients) == 0 {
		return nil, d.Err("provider needs at least one client: client <id> { ... }")
	}
	return p, nil
}

// parseProviderClient reads the block of one provider client, the dispenser on its id. The
// client is checked when its block ends, the error at its client line.
func parseProviderClient(d *caddyfile.Dispenser, c *ProviderClient) error {
	opts := newOptionBlock(d, "client")
	for opts.next() {
		name := d.Val()
		if err := opts.once(name); err != nil {
			return err
		}
		switch name {
		case "secret_hash":
			v, err := opts.arg(issuer.CheckSecretHash)
			if err != nil {
				return err
			}
			c.SecretHash = v
		case "public":
			if d.NextArg() {
				return opts.argErr()
			}
			c.Public = true
		case "redirect_uri", "post_logout_redirect_uri", "scopes", "claims":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return opts.argErr()
			}
			switch name {
			case "redirect_uri":
				c.RedirectURIs = args
			case "post_logout_redirect_uri":
				c.PostLogoutRedirectURIs = args
			case "scopes":
				c.Scopes = args
			default:
				for _, a := range args {
					if err := checkClaimName(a); err != nil {
						return d.Errf("claims: %v", err)
					}
				}
				c.Claims = args
			}
		default:
			return opts.unknown()
		}
	}
	ic := c.issuerClient()
	if err := issuer.CheckProviderClient(&ic); err != nil {
		return opts.atHead(err)
	}
	return nil
}
