#!/usr/bin/env bash
# Refresh-rotation benchmark: refreshes per second with rotate_refresh, and the latency of one
# refresh, on Caddy's file storage and on Redis, with one and with two instances. See
# bench/README.md ("bench/refresh.sh").
#
#   bench/refresh.sh            all four setups, DURATION s each (~1 min)
#   QUICK=1 bench/refresh.sh    a smoke test: 1 s each; proves it works, measures nothing
#
# Setups (SCENARIOS, default all): file (one Caddy, file storage), file2 (two Caddy processes on
# one storage folder, requests alternating), redis (one Caddy, store redis), redis2 (two Caddy
# processes, each its own storage folder, one Redis). Settings: DURATION (10), WARMUP (2),
# SESSIONS (32 concurrent sessions, each refreshing its own chain), SERVER_CPU (0) for Caddy and
# redis-server, CLIENT_CPU (1) for the load.
#
# Prints progress on stderr and a Markdown table on stdout; exits non-zero when a refresh fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ ${QUICK:-0} == 1 ]]; then
	: "${DURATION:=1}" "${WARMUP:=1}"
fi
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
SESSIONS=${SESSIONS:-32}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
SCENARIOS=${SCENARIOS:-file file2 redis redis2}
readonly CADDY_BIN=bin/caddy
# alice-pw at bcrypt cost 4: the benchmark is about refreshes, logins happen once per session.
readonly ALICE_HASH='$2a$04$jtbYAZjfJVFuB5at.e72.ubgghvlf88CJne.EDJvHG.RiW1tnH4DC'

log() { printf '==> %s\n' "$*" >&2; }
die() {
	printf 'refresh.sh: %s\n' "$*" >&2
	exit 1
}

# shellcheck source=.ci/ensure_apt.sh
. .ci/ensure_apt.sh
ensure_apt redis-server
./xcaddy.sh build >&2
go build -o bin/refresh-load ./bench/refresh

tmp=$(mktemp -d)
pids=()
# cleanup stops every process the script started and removes $tmp; when the script fails, it
# first prints the last lines of each log there (Caddy's, redis-server's), which go with $tmp.
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

# caddy_up <name> <storage dir> <redis prefix or ""> : starts one Caddy (with store redis when a
# prefix is given) and sets url to its base URL.
url=""
caddy_up() {
	local name=$1 storage=$2 store="" port admin
	if [[ -n $3 ]]; then
		store="store redis redis://127.0.0.1:$redis_port/0 {
			prefix $3
		}"
	fi
	port=$(free_port)
	admin=$(free_port)
	cat >"$tmp/$name.Caddyfile" <<CADDY
{
	admin 127.0.0.1:$admin
	storage file_system $storage
	auto_https off
	persist_config off
}
http://:$port {
	bind 127.0.0.1
	jwt_issuer /api/token/* {
		user alice $ALICE_HASH {
			claim user_id 1
		}
		rotate_refresh
		login_limit off
		$store
	}
}
CADDY
	HOME=$tmp/$name XDG_CONFIG_HOME=$tmp/$name XDG_DATA_HOME=$tmp/$name taskset -c "$SERVER_CPU" \
		"$CADDY_BIN" run --config "$tmp/$name.Caddyfile" --adapter caddyfile >"$tmp/$name.log" 2>&1 &
	pids+=("$!")
	wait_port "$port"
	url="http://127.0.0.1:$port"
}

redis_port=""
redis_up() {
	[[ -n $redis_port ]] && return 0
	redis_port=$(free_port)
	mkdir -p "$tmp/redis"
	taskset -c "$SERVER_CPU" redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$tmp/redis" \
		--save "" --appendonly yes --appendfsync everysec >"$tmp/redis.log" 2>&1 &
	pids+=("$!")
	wait_port "$redis_port"
}

# run_load <targets> sets rate, p50 and p99. It runs in the script's own shell, not in a
# subshell, so that its die ends the script: the load prints its figures even when it then exits
# non-zero, and a table row of a failed run would look like a measurement.
rate="" p50="" p99=""
run_load() {
	local out
	if ! out=$(taskset -c "$CLIENT_CPU" bin/refresh-load -targets "$1" -sessions "$SESSIONS" \
		-duration "${DURATION}s" -warmup "${WARMUP}s"); then
		die "refreshes failed on $1 (the load's first error is above)"
	fi
	read -r rate p50 p99 <<<"$out"
	[[ -n $p99 ]] || die "the load printed no figures: $out"
}

printf '| setup | refreshes/s | p50 ms | p99 ms |\n|---|---|---|---|\n'
n=0
for sc in $SCENARIOS; do
	n=$((n + 1))
	case $sc in
	file)
		caddy_up "file-a$n" "$tmp/storage-$n" ""
		label="one Caddy, file storage" targets=$url
		;;
	file2)
		caddy_up "file2-a$n" "$tmp/storage-$n" ""
		targets=$url
		caddy_up "file2-b$n" "$tmp/storage-$n" ""
		label="two Caddy processes, one file storage folder" targets="$targets,$url"
		;;
	redis)
		redis_up
		caddy_up "redis-a$n" "$tmp/storage-$n-a" "run$n"
		label="one Caddy, store redis" targets=$url
		;;
	redis2)
		redis_up
		caddy_up "redis2-a$n" "$tmp/storage-$n-a" "run$n"
		targets=$url
		caddy_up "redis2-b$n" "$tmp/storage-$n-b" "run$n"
		label="two Caddy processes, each its own storage, one Redis" targets="$targets,$url"
		;;
	*) die "unknown scenario $sc" ;;
	esac
	log "$sc: $SESSIONS sessions for ${DURATION}s on $targets"
	run_load "$targets"
	printf '| %s | %s | %s | %s |\n' "$label" "$rate" "$p50" "$p99"
done
printf '\n%s sessions, %s s measured after %s s, Caddy and redis-server on CPU %s, the load on CPU %s; %s; load before: %s\n' \
	"$SESSIONS" "$DURATION" "$WARMUP" "$SERVER_CPU" "$CLIENT_CPU" \
	"$(git rev-parse --short HEAD)$(git diff --quiet || echo ' + working tree')" "$(cut -d' ' -f1-3 /proc/loadavg)"
