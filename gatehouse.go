// Package gatehouse is the plugin entry point: `xcaddy build --with github.com/gatehouse-dev/gatehouse`
// registers every Gatehouse module with Caddy.
package gatehouse

import (
	_ "github.com/gatehouse-dev/gatehouse/caddyauth"
)
