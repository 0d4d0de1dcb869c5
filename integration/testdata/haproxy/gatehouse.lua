-- Gatehouse forward auth for HAProxy (2.5 or later: core.httpclient). The action
-- `http-request lua.gatehouse <url>` asks Gatehouse's jwt_forward_auth at <url> about the request,
-- with the X-Forwarded-* headers Traefik sends and the client's headers Gatehouse reads, and
-- leaves the answer in variables for haproxy.cfg: txn.gh_status, txn.gh_body and txn.gh_<header>
-- (lower case, "-" as "_") for the answer headers below ("" when absent).

-- The client's headers Gatehouse reads: the token, the session cookies, and what tells a browser
-- and its site (Accept, Origin, Referer, Fetch Metadata).
local client_headers = {"authorization", "cookie", "origin", "referer", "accept",
	"sec-fetch-site", "sec-fetch-mode", "user-agent"}

-- The answer headers haproxy.cfg uses.
local answer_headers = {"remote-user", "x-user-id", "cookie", "location", "www-authenticate",
	"content-type", "cache-control", "gatehouse-set-cookie-1", "gatehouse-set-cookie-2"}

core.register_action("gatehouse", {"http-req"}, function(txn, url)
	local tls = txn.sf:ssl_fc()
	local h = {
		["X-Forwarded-Method"] = {txn.sf:method()},
		["X-Forwarded-Proto"] = {(tls == true or tls == 1) and "https" or "http"},
		["X-Forwarded-Host"] = {txn.sf:req_fhdr("host") or ""},
		["X-Forwarded-Uri"] = {txn.sf:pathq()},
		["X-Forwarded-For"] = {txn.sf:src()},
	}
	for _, name in ipairs(client_headers) do
		local v = txn.sf:req_fhdr(name)
		if v ~= nil and v ~= "" then
			h[name] = {v}
		end
	end
	local res = core.httpclient():get{url = url, headers = h, timeout = 10000}
	-- No answer (Gatehouse down): fail closed, as any status but 200 is.
	txn:set_var("txn.gh_status", res and res.status or 503)
	txn:set_var("txn.gh_body", res and res.body or "")
	for _, name in ipairs(answer_headers) do
		local v = res and res.headers and res.headers[name]
		txn:set_var("txn.gh_" .. name:gsub("%-", "_"), v and v[0] or "")
	end
end, 1)
