#!/usr/bin/env bash
# Soak test: a Caddy with jwt_issuer and jwt_auth under mixed traffic for a while, checked for 5xx
# answers, transport errors, wrong answers, panics or secrets in its log, and memory or goroutine
# growth. See bench/README.md.
#
#   bench/soak.sh                  3 minutes of measured traffic after 30 s of warm-up
#   DURATION=20 bench/soak.sh      a smoke run
#
# Settings (environment): DURATION seconds of measured traffic (180), WARMUP seconds of traffic
# before the first memory sample (30; DURATION/2 when DURATION < 60), CONCURRENCY workers (8),
# LOG_LEVEL of Caddy (DEBUG, so that the refusal logs are written and checked for leaks), KEEP=1
# to keep the working directory (Caddyfile, storage, caddy.log).
#
# Everything happens on 127.0.0.1 and in a temporary directory; Caddy is stopped on exit, however
# the script ends. Exits non-zero when the driver (bench/soak/main.go) finds a failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

readonly CADDY_BIN=bin/caddy

DURATION=${DURATION:-180}
if [[ -z ${WARMUP:-} ]]; then
	WARMUP=30
	if [[ $DURATION =~ ^[0-9]+$ ]] && ((DURATION < 60)); then
		WARMUP=$(((DURATION + 1) / 2))
	fi
fi
CONCURRENCY=${CONCURRENCY:-8}
LOG_LEVEL=${LOG_LEVEL:-DEBUG}
KEEP=${KEEP:-0}

log() { printf '==> %s\n' "$*" >&2; }
die() {
	printf 'soak.sh: %s\n' "$*" >&2
	exit 1
}

for name in DURATION WARMUP CONCURRENCY; do
	[[ ${!name} =~ ^[0-9]+$ ]] || die "$name=${!name} is not a whole number"
done
((DURATION >= 1)) || die "DURATION must be at least 1 second"
((CONCURRENCY >= 1 && CONCURRENCY <= 256)) || die "CONCURRENCY must be from 1 to 256"
[[ $LOG_LEVEL =~ ^(DEBUG|INFO|WARN|ERROR)$ ]] || die "LOG_LEVEL must be DEBUG, INFO, WARN or ERROR"

tmp=""
caddy_pid=""
driver_pid=""

# cleanup stops the driver and Caddy (TERM, then KILL after 5 s) and removes the working
# directory.
cleanup() {
	local status=$? i
	if [[ -n $driver_pid ]]; then
		kill -TERM "$driver_pid" 2>/dev/null || true
		wait "$driver_pid" 2>/dev/null || true
	fi
	if [[ -n $caddy_pid ]]; then
		kill -TERM "$caddy_pid" 2>/dev/null || true
		for ((i = 0; i < 50; i++)); do
			kill -0 "$caddy_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$caddy_pid" 2>/dev/null || true
		wait "$caddy_pid" 2>/dev/null || true
	fi
	if [[ -n $tmp ]]; then
		if ((status != 0)) && [[ -s $tmp/caddy.out ]]; then
			printf '\nlast lines of caddy'"'"'s output:\n' >&2
			tail -n 20 "$tmp/caddy.out" >&2
		fi
		if [[ $KEEP == 1 ]]; then
			log "kept $tmp"
		else
			rm -rf "$tmp"
		fi
	fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

./xcaddy.sh build
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-soak.XXXXXX")
go build -o "$tmp/soak" ./bench/soak
"$tmp/soak" setup -dir "$tmp" -log-level "$LOG_LEVEL"

# HOME and the XDG directories inside $tmp: Caddy writes nothing outside it.
log "starting caddy ($tmp/Caddyfile)"
env -u CADDY_ADMIN HOME="$tmp" XDG_CONFIG_HOME="$tmp/config" XDG_DATA_HOME="$tmp/data" \
	"$PWD/$CADDY_BIN" run --config "$tmp/Caddyfile" --adapter caddyfile >"$tmp/caddy.out" 2>&1 </dev/null &
caddy_pid=$!

# In the background and waited for, so that a TERM or INT to this script runs cleanup at once
# (bash runs traps only between foreground commands).
"$tmp/soak" run -dir "$tmp" -pid "$caddy_pid" -duration "${DURATION}s" -warmup "${WARMUP}s" -concurrency "$CONCURRENCY" &
driver_pid=$!
wait "$driver_pid"
driver_pid=""
kill -0 "$caddy_pid" 2>/dev/null || die "caddy exited during the run"
