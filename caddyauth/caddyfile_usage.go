package caddyauth

// optionTable lists the options of every Gatehouse Caddyfile block with what each takes and an
// example: a wrong number of values is answered with that (optionBlock.argErr), an unknown option
// with the nearest of these names (optionBlock.unknown). An option added to a parser gets both
// by a line here; TestOptionTableCoversParsers fails until it has one.
var optionTable = map[string][]option{
	"jwt_auth": jwtAuthOptions,
	"jwt_forward_auth": append([]option{
		{"forwarded_headers", "x-forwarded|x-original", "x-forwarded"},
		{"user_header", "<Header-Name>", "X-Forwarded-User"},
		{"route", "<host>[/<path>] [{ require <claim> <value...> }]", "git.home.example/admin"},
	}, without(jwtAuthOptions, "cors", "from_query")...),
	"jwt_issuer": {
		{"name", "<name>", "shop"},
		{"users_file", "<path>", "/etc/caddy/users"},
		{"user", "<name> <hash> [{ claim <name> <value...> }]", "alice $2a$14$... (make the hash with `caddy hash-password`)"},
		{"credentials_url", "<url>", "https://app.example/check-password"},
		{"signing_key", "auto [ES256|EdDSA|RS256] | file <private.pem> | secret <secret>", "file /etc/caddy/jwt.pem"},
		{"issuer", "<iss>", "https://example.com"},
		{"audience", "<aud...>", "my-api"},
		{"access_ttl", "<duration>", "5m"},
		{"refresh_ttl", "<duration>", "24h"},
		{"rotate_refresh", "", ""},
		{"rotate_keys", "<interval>", "720h"},
		{"user_id_claim", "<claim>", "user_id"},
		{"login_limit", "<n> per <duration> [per_user <m>] | off", "20 per 1m per_user 200"},
		{"base_path", "<path>", "/api/token"},
		{"realm", "<realm>", "api"},
		{"store", "redis <url> [{ prefix <prefix> }]", "redis redis://127.0.0.1:6379/0"},
		{"cors", "{ origins <origin...> ... }", "{ origins https://app.example.com }"},
		{"session", "[{ <session options> }]", "{ login_page /etc/caddy/login.html }"},
	},
	"session": {
		{"access_cookie", "<name>", "gatehouse_access"},
		{"refresh_cookie", "<name>", "gatehouse_refresh"},
		{"login_page", "<template file>", "/etc/caddy/login.html"},
		{"origin", "<scheme://host[:port]...>", "https://app.example.com"},
	},
	"store": {
		{"prefix", "<prefix>", "shop"},
	},
	"cors": {
		{"origins", "<origin|https://*.domain|*...>", "https://app.example.com"},
		{"methods", "<method...>", "GET POST"},
		{"headers", "<header...>", "Authorization Content-Type"},
		{"credentials", "", ""},
		{"max_age", "<duration>", "10m"},
	},
	"user": {
		{"claim", "<name> <value...>", "roles admin editor"},
	},
	"route": {
		{"require", "<claim> <value...>", "groups git"},
	},
	"gatehouse": {
		{"issuer", "<name> { <jwt_issuer settings> }", "home { users_file /etc/caddy/users }"},
	},
}

// jwtAuthOptions are the options of jwt_auth, most of which jwt_forward_auth has too.
var jwtAuthOptions = []option{
	{"secret", "<secret>", "{env.JWT_SECRET}"},
	{"public_key", "<file.pem>", "/etc/caddy/jwt-public.pem"},
	{"jwks_file", "<file.json>", "/etc/caddy/jwks.json"},
	{"jwks_url", "<url> [refresh <duration>]", "https://issuer.example/.well-known/jwks.json refresh 15m"},
	{"algorithms", "<alg...>", "RS256 ES256"},
	{"issuer", "<iss...>", "https://issuer.example"},
	{"audience", "<aud...>", "my-api"},
	{"leeway", "<duration>", "30s"},
	{"token_type", "<value|off>", "access"},
	{"typ", "<media type...>", "at+jwt"},
	{"from_header", "<name> [<scheme>...]", "Authorization Bearer"},
	{"from_cookie", "<name>", "access_token"},
	{"from_query", "<name>", "token"},
	{"user_claim", "<claim...>", "user_id sub"},
	{"forward_claim", "<claim> <Header-Name>", "sub X-User-Id"},
	{"require", "<claim> <value...>", "scope read"},
	{"optional", "", ""},
	{"max_token_size", "<bytes>", "8192"},
	{"cache_size", "<tokens|off>", "10000"},
	{"realm", "<realm>", "api"},
	{"session", "<issuer base path>", "/api/token"},
	{"issuer_name", "<jwt_issuer name...>", "shop"},
	{"cors", "passthrough | { origins <origin...> ... }", "{ origins https://app.example.com }"},
}

// without is opts less the options named.
func without(opts []option, names ...string) []option {
	var out []option
next:
	for _, opt := range opts {
		for _, n := range names {
			if opt.name == n {
				continue next
			}
		}
		out = append(out, opt)
	}
	return out
}
