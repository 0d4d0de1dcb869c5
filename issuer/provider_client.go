package issuer

import (
	"crypto/sha256"
	"crypto/subtle"
	"slices"
	"sync"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/crypto/bcrypt"
)

// opClient is a configured relying party, as the op sees it (op.Client).
type opClient struct {
	p              *provider
	id             string
	secretHash     []byte
	public         bool
	redirects      []string
	postLogout     []string
	scopes         []string
	claims         []string
	grantTypes     []oidc.GrantType
	accessLifetime time.Duration

	// verified remembers the SHA-256 of the last secret that passed bcrypt, so that a client
	// exchanging many codes pays the (deliberately slow) bcrypt check once per process.
	mu       sync.Mutex
	verified [sha256.Size]byte
	ok       bool
}

func newOPClient(p *provider, c *ProviderClient) (*opClient, error) {
	if err := CheckProviderClient(c); err != nil {
		return nil, err
	}
	oc := &opClient{
		p:          p,
		id:         c.ID,
		secretHash: []byte(c.SecretHash),
		public:     c.Public,
		redirects:  slices.Clone(c.RedirectURIs),
		postLogout: slices.Clone(c.PostLogoutRedirectURIs),
		scopes:     slices.Clone(c.Scopes),
		claims:     slices.Clone(c.Claims),
	}
	if oc.scopes == nil {
		oc.scopes = slices.Clone(defaultScopes)
	}
	oc.grantTypes = []oidc.GrantType{oidc.GrantTypeCode}
	if slices.Contains(oc.scopes, oidc.ScopeOfflineAccess) {
		oc.grantTypes = append(oc.grantTypes, oidc.GrantTypeRefreshToken)
	}
	oc.accessLifetime, _ = p.h.minter.Lifetimes()
	return oc, nil
}

// checkSecret compares secret with the client's bcrypt hash.
func (c *opClient) checkSecret(secret string) bool {
	if c.public {
		return false
	}
	sum := sha256.Sum256([]byte(secret))
	c.mu.Lock()
	hit := c.ok && subtle.ConstantTimeCompare(sum[:], c.verified[:]) == 1
	c.mu.Unlock()
	if hit {
		return true
	}
	if bcrypt.CompareHashAndPassword(c.secretHash, []byte(secret)) != nil {
		return false
	}
	c.mu.Lock()
	c.verified, c.ok = sum, true
	c.mu.Unlock()
	return true
}

// view is the op.Client of one request: its login URL depends on whether the browser came with
// a session (then the request is answered at once).
type clientView struct {
	*opClient
	signedIn bool
}

func (c clientView) GetID() string                    { return c.id }
func (c clientView) RedirectURIs() []string           { return c.redirects }
func (c clientView) PostLogoutRedirectURIs() []string { return c.postLogout }
func (c clientView) ApplicationType() op.ApplicationType {
	if c.public {
		return op.ApplicationTypeUserAgent
	}
	return op.ApplicationTypeWeb
}
func (c clientView) AuthMethod() oidc.AuthMethod {
	if c.public {
		return oidc.AuthMethodNone
	}
	return oidc.AuthMethodBasic // client_secret_post is accepted as well (op.Config.AuthMethodPost)
}
func (c clientView) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c clientView) GrantTypes() []oidc.GrantType { return c.grantTypes }

// LoginURL is where the op sends the browser once the request is stored: straight to the
// callback (which issues the code) for a browser that is signed in, else the login page.
func (c clientView) LoginURL(id string) string {
	if c.signedIn {
		return c.p.h.base + callbackPath + "?id=" + id
	}
	return c.p.loginURL(id)
}
func (c clientView) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeJWT }
func (c clientView) IDTokenLifetime() time.Duration       { return c.accessLifetime }
func (c clientView) DevMode() bool                        { return false }
func (c clientView) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c clientView) ClockSkew() time.Duration             { return 0 }
func (c clientView) IsScopeAllowed(scope string) bool     { return slices.Contains(c.scopes, scope) }
func (c clientView) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c clientView) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

var _ op.Client = clientView{}
