package caddyauth

import (
	"net/http"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// warnLenientProxies logs a warning, once per jwt_issuer, when login_limit counts attempts per
// client address and a request reaches it through a proxy of the server's trusted_proxies
// without trusted_proxies_strict. Caddy then takes the client address from the leftmost
// X-Forwarded-For entry (or of the first of client_ip_headers): proxies append to that header,
// so its leftmost entries are what the client wrote, and one client can give every login
// attempt another address.
//
// It looks at requests, not at Provision: a handler's Provision can reach the http app (Caddy
// registers an app before provisioning it) but not the server it belongs to, and by the time
// the server's routes are provisioned Caddy has loaded and cleared its trusted_proxies setting
// (Server.TrustedProxiesRaw), keeping it in an unexported field. A request carries its server,
// and Caddy marks whether it came from a trusted proxy, which is when the warning matters.
func (j *JWTIssuer) warnLenientProxies(r *http.Request) {
	if atomic.LoadUint32(&j.proxiesChecked) != 0 {
		return
	}
	if trusted, _ := caddyhttp.GetVar(r.Context(), caddyhttp.TrustedProxyVarKey).(bool); !trusted {
		return // not yet known: look again at the next request
	}
	if !atomic.CompareAndSwapUint32(&j.proxiesChecked, 0, 1) {
		return
	}
	if ll := j.core.cfg.LoginLimit; ll != nil && ll.Off {
		return
	}
	srv, _ := r.Context().Value(caddyhttp.ServerCtxKey).(*caddyhttp.Server)
	if srv == nil || srv.TrustedProxiesStrict > 0 {
		return
	}
	headers := srv.ClientIPHeaders
	if len(headers) == 0 {
		headers = []string{"X-Forwarded-For"}
	}
	j.logger.Warn("login_limit counts attempts per client address, and this server has trusted_proxies without trusted_proxies_strict: "+
		"the client address is then the leftmost entry of the client IP header, which the client chooses, so one client can spread "+
		"its login attempts over any number of addresses; add trusted_proxies_strict to the servers global option "+
		"(the address is then the rightmost entry not added by a trusted proxy)",
		zap.Strings("client_ip_headers", headers))
}
