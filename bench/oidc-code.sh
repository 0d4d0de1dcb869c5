#!/usr/bin/env bash
# OpenID Connect benchmark: sign-ins per second through the authorization code flow between a
# Gatehouse provider and a Gatehouse relying party, for browsers that already have a session at
# the provider (the login form is not measured), and what a protected request costs on the
# relying party's session cookie against a plain jwt_auth session cookie. See bench/README.md
# ("bench/oidc-code.sh").
#
#   bench/oidc-code.sh            DURATION s per row (~1 min)
#   QUICK=1 bench/oidc-code.sh    a smoke test: 1 s each; proves it works, measures nothing
#
# Two Caddy processes: the provider (jwt_issuer with provider, client secret hashed at bcrypt
# cost 4), and the app, with two sites: the relying party (jwt_auth session oidc) and, for the
# comparison, a jwt_issuer with jwt_auth session. The relying-party row runs with the provider
# stopped: its session is checked locally, with no request to the provider.
# Settings: DURATION (10), WARMUP (2), WORKERS (16 browsers signing in again and again),
# CONNECTIONS (32, wrk), SERVER_CPU (0) for both Caddy processes, CLIENT_CPU (1) for the load.
#
# Prints progress on stderr and a Markdown table on stdout; exits non-zero when a request fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ ${QUICK:-0} == 1 ]]; then
	: "${DURATION:=1}" "${WARMUP:=1}"
fi
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
WORKERS=${WORKERS:-16}
CONNECTIONS=${CONNECTIONS:-32}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
readonly CADDY_BIN=bin/caddy
# alice-pw at bcrypt cost 4: logins happen once per browser, and are not measured.
readonly ALICE_HASH='$2a$04$jtbYAZjfJVFuB5at.e72.ubgghvlf88CJne.EDJvHG.RiW1tnH4DC'

log() { printf '==> %s\n' "$*" >&2; }
die() {
	printf 'oidc-code.sh: %s\n' "$*" >&2
	exit 1
}

# shellcheck source=.ci/ensure_apt.sh
. .ci/ensure_apt.sh
ensure_apt wrk curl
CLK_TCK=$(getconf CLK_TCK)
./xcaddy.sh build >&2
go build -o bin/oidc-load ./bench/oidc

tmp=$(mktemp -d)
pids=()
# cleanup stops every process the script started and removes $tmp; when the script fails, it
# first prints the last lines of each Caddy log.
cleanup() {
	local status=$? f
	if ((status != 0)); then
		for f in "$tmp"/*.log; do
			[[ -s $f ]] || continue
			printf '\nlast lines of %s:\n' "${f##*/}" >&2
			tail -n 5 "$f" >&2
		done
	fi
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	rm -rf "$tmp"
	exit "$status"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() {
	for _ in $(seq 150); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	die "nothing listens on 127.0.0.1:$1"
}

# caddy_up <name> <sites>: starts a Caddy with those site blocks on SERVER_CPU; sets pid.
pid=""
caddy_up() {
	local name=$1 admin
	admin=$(free_port)
	cat >"$tmp/$name.Caddyfile" <<CADDY
{
	admin 127.0.0.1:$admin
	storage file_system $tmp/$name-storage
	auto_https off
	persist_config off
}
$2
CADDY
	HOME=$tmp/$name XDG_CONFIG_HOME=$tmp/$name XDG_DATA_HOME=$tmp/$name BENCH_SECRET=$secret taskset -c "$SERVER_CPU" \
		"$CADDY_BIN" run --config "$tmp/$name.Caddyfile" --adapter caddyfile >"$tmp/$name.log" 2>&1 &
	pid=$!
	pids+=("$pid")
}

ticks() { # the CPU ticks (user + system) of the processes given
	local sum=0 p stat f
	for p in "$@"; do
		stat=$(<"/proc/$p/stat")
		stat=${stat##*) }
		read -r -a f <<<"$stat"
		sum=$((sum + f[11] + f[12]))
	done
	echo "$sum"
}
per_request() { awk -v d="$1" -v hz="$CLK_TCK" -v n="$2" 'BEGIN { printf "%.0f", d * 1e6 / hz / n }'; }

secret=$(head -c 48 /dev/urandom | base64 | tr -d '/+=\n' | head -c 40)
hash=$(bin/oidc-load -hash "$secret")
p_op=$(free_port) p_app=$(free_port) p_plain=$(free_port)
provider="http://127.0.0.1:$p_op/auth"
app="http://127.0.0.1:$p_app"
plain="http://127.0.0.1:$p_plain"

caddy_up provider "http://127.0.0.1:$p_op {
	jwt_issuer /auth/* {
		user alice $ALICE_HASH {
			claim email alice@example.test
		}
		issuer $provider
		login_limit off
		session
		provider {
			client bench {
				secret_hash $hash
				redirect_uri $app/oidc/callback
			}
		}
	}
}"
pid_op=$pid
caddy_up app "http://127.0.0.1:$p_app {
	jwt_auth /private/* {
		session oidc $provider {
			client_id     bench
			client_secret {env.BENCH_SECRET}
			claim         email
			access_ttl    1h
		}
	}
	respond /private/* \"private {http.auth.user.id}\"
	respond /open \"open\"
}
http://127.0.0.1:$p_plain {
	jwt_issuer /api/token/* {
		user alice $ALICE_HASH
		access_ttl 1h
		login_limit off
		session
	}
	jwt_auth /private/* {
		session /api/token
	}
	respond /private/* \"private {http.auth.user.id}\"
}"
pid_app=$pid
wait_port "$p_op"
wait_port "$p_app"
wait_port "$p_plain"

printf '| what | per second | p50 ms | p99 ms | server CPU-µs each |\n|---|---|---|---|---|\n'

log "code flow: $WORKERS browsers signed in at the provider, signing in to the app for ${DURATION}s"
t0=$(ticks "$pid_op" "$pid_app")
if ! out=$(taskset -c "$CLIENT_CPU" bin/oidc-load -provider "$provider" -app "$app" -workers "$WORKERS" \
	-duration "${DURATION}s" -warmup "${WARMUP}s"); then
	die "sign-ins failed (the load's first error is above)"
fi
t1=$(ticks "$pid_op" "$pid_app")
read -r rate p50 p99 <<<"$out"
[[ -n $p99 ]] || die "the load printed no figures: $out"
# The CPU of the warmup is in t1 - t0 too: count its sign-ins at the measured rate.
n=$(awk -v r="$rate" -v d="$DURATION" -v w="$WARMUP" 'BEGIN { printf "%d", r * (d + w) }')
printf '| sign-in by code flow (4 requests, code exchange and ID token check included), both processes | %s | %s | %s | %s |\n' \
	"$rate" "$p50" "$p99" "$(per_request $((t1 - t0)) "$n")"

# Cookies for wrk: the relying party's session (a sign-in by code flow), and a plain session
# of the second site's issuer (its login form).
{ read -r rp_cookie; read -r _; } < <(bin/oidc-load -cookies -provider "$provider" -app "$app")
[[ $rp_cookie == gatehouse_oidc=* ]] || die "no relying-party session cookie: $rp_cookie"
plain_cookie=$(curl -fsS -o /dev/null -D - -H "Origin: $plain" --data 'username=alice&password=alice-pw&next=/' \
	"$plain/api/token/login" | awk 'tolower($1) == "set-cookie:" { sub(/;.*/, "", $2); printf "%s%s", sep, $2; sep = "; " }' | tr -d '\r')
[[ -n $plain_cookie ]] || die "the plain login set no cookie"

# wrk_row <label> <url> <pid> [cookie]: one wrk run after a warmup; prints a table row.
wrk_row() {
	local label=$1 url=$2 p=$3 hdr=() out t0 t1 n rate p50 p99
	[[ -n ${4:-} ]] && hdr=(-H "Cookie: $4")
	taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" "${hdr[@]}" "$url" >/dev/null
	t0=$(ticks "$p")
	out=$(taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "${hdr[@]}" "$url")
	t1=$(ticks "$p")
	if grep -q 'Non-2xx\|Socket errors' <<<"$out"; then
		die "$label: errors: $out"
	fi
	n=$(awk '/requests in/ { print $1 }' <<<"$out")
	rate=$(awk '/^Requests\/sec/ { printf "%.0f", $2 }' <<<"$out")
	ms() { awk -v q="$1" '$1 == q { v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) sub(/ms$/, "", v); else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 } printf "%.2f", v }' <<<"$out"; }
	p50=$(ms 50%) p99=$(ms 99%)
	printf '| %s | %s | %s | %s | %s |\n' "$label" "$rate" "$p50" "$p99" "$(per_request $((t1 - t0)) "$n")"
}

log "protected requests, ${DURATION}s each"
wrk_row 'request without auth (`respond`), the app' "$app/open" "$pid_app"
wrk_row 'protected request, plain `jwt_auth session` cookie' "$plain/private/x" "$pid_app" "$plain_cookie"
# The provider stopped: a relying-party session that needed it would fail every request.
kill "$pid_op"
wait "$pid_op" 2>/dev/null || true
wrk_row 'protected request, relying-party session cookie (provider stopped)' "$app/private/x" "$pid_app" "$rp_cookie"

printf '\n%s browsers (code flow), %s wrk connections, %s s measured after %s s, Caddy on CPU %s, the load on CPU %s; %s; load before: %s\n' \
	"$WORKERS" "$CONNECTIONS" "$DURATION" "$WARMUP" "$SERVER_CPU" "$CLIENT_CPU" \
	"$(git rev-parse --short HEAD)$(git diff --quiet || echo ' + working tree')" "$(cut -d' ' -f1-3 /proc/loadavg)"
