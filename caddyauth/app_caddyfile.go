package caddyauth

import (
	"encoding/json"
	"fmt"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("gatehouse", parseGatehouseOption)
}

// parseGatehouseOption parses the gatehouse global option into the gatehouse app's JSON:
//
//	{
//	    gatehouse {
//	        issuer <name> {
//	            <the settings of jwt_issuer>
//	        }
//	    }
//	}
//
// An issuer configured here is served by `jwt_issuer [<matcher>] <name>` in any site, and trusted
// by `jwt_auth { issuer_name <name> }`.
func parseGatehouseOption(d *caddyfile.Dispenser, existing any) (any, error) {
	app := new(App)
	if prev, ok := existing.(httpcaddyfile.App); ok {
		// The option given twice: the blocks add up.
		if err := json.Unmarshal(prev.Value, app); err != nil {
			return nil, err
		}
	}
	for d.Next() {
		opts := newOptionBlock(d, "gatehouse")
		if d.NextArg() {
			return nil, d.Errf("gatehouse takes no value, only a block, e.g. gatehouse { issuer home { users_file /etc/caddy/users } }; %s", gotValues(1+d.CountRemainingArgs()))
		}
		for opts.next() {
			switch d.Val() {
			case "issuer":
				if !d.NextArg() {
					return nil, opts.argErr()
				}
				// Mistakes of the whole issuer are reported at its name's line.
				issuerAt := newOptionBlock(d, "jwt_issuer").atHead
				name := d.Val()
				if err := checkIssuerName(name); err != nil {
					return nil, d.Errf("issuer %v", err)
				}
				if _, dup := app.Issuers[name]; dup {
					return nil, d.Errf("issuer %s is already configured; configure it once", name)
				}
				// The name's segment: the name stands where jwt_issuer stands in a site.
				var j JWTIssuer
				if err := j.UnmarshalCaddyfile(d.NewFromNextSegment()); err != nil {
					return nil, err
				}
				if j.Name != "" {
					return nil, issuerAt(fmt.Errorf("issuer %s: the name is given after issuer; remove name %s", name, j.Name))
				}
				if !j.hasSettings() {
					return nil, issuerAt(fmt.Errorf("issuer %s needs its settings, e.g. issuer %s { users_file /etc/caddy/users }", name, name))
				}
				if j.BasePath != "" {
					return nil, issuerAt(fmt.Errorf("issuer %s: base_path belongs to the jwt_issuer that serves it: jwt_issuer /api/token/* %s", name, name))
				}
				if app.Issuers == nil {
					app.Issuers = make(map[string]*IssuerConfig)
				}
				cfg := j.IssuerConfig
				app.Issuers[name] = &cfg
			default:
				return nil, opts.unknown()
			}
		}
	}
	raw, err := json.Marshal(app)
	if err != nil {
		return nil, err
	}
	return httpcaddyfile.App{Name: "gatehouse", Value: raw}, nil
}
