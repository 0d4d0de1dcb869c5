#!/usr/bin/env bash
# End-to-end benchmark: the server CPU Caddy spends per request with jwt_auth in front of
# file_server, against the same Caddy without jwt_auth. See bench/README.md.
#
#   bench/e2e.sh              the full run (6 scenarios x 21 rounds x 2 configurations x 4 s: ~20 min)
#   QUICK=1 bench/e2e.sh      a smoke test (1 round of 1 s each): proves it works, measures nothing
#   SCENARIOS=aa bench/e2e.sh an A/A test: plain Caddy against a second plain Caddy, to see how
#                             far from 1.00 this machine's noise alone puts a median
#   MODE=concurrent bench/e2e.sh  both configurations of a round at the same time: a far
#                             steadier ratio, with colder CPU caches (see MODE below)
#
# Settings (environment): ROUNDS (21), DURATION seconds per measured run (3), WARMUP seconds
# before each (1), CONNECTIONS (32), THREADS of wrk (1), SCENARIOS (all of: reused-hs256
# reused-es256 reused-eddsa distinct-hs256 distinct-es256 distinct-eddsa; and aa), HS256_TOKENS (50000)
# and ASYM_TOKENS (20000) in the distinct pools, SERVER_CPU (0) and CLIENT_CPU (1), MIN_BUSY (90)
# and RETRIES (3): a round in which the server was busy less than MIN_BUSY% of a run (so it was
# not saturated: something else took its CPU or wrk's) is measured again, at most RETRIES times.
# JWT_AUTH_EXTRA is one more line for every jwt_auth block, e.g. "cache_size off".
# MODE (alternate): alternate runs the two configurations of a round one after the other, as
# issue 5 asks; concurrent loads both at the same time on the same server CPU, each from its own
# wrk with half the CONNECTIONS, which cancels the machine's drift and so measures a ratio far
# more precisely (see bench/README.md), though both servers then run with colder CPU caches.
#
# Prints progress on stderr and a Markdown table on stdout. Exits non-zero when any run had a
# non-2xx response or a socket error.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

readonly ALL_SCENARIOS="reused-hs256 reused-es256 reused-eddsa distinct-hs256 distinct-es256 distinct-eddsa"
# aa is not in the default set: it measures the method, not jwt_auth.
readonly KNOWN_SCENARIOS="$ALL_SCENARIOS aa"
readonly CADDY_BIN=bin/caddy
readonly FILE=1k.txt

if [[ ${QUICK:-0} == 1 ]]; then
	: "${ROUNDS:=1}" "${DURATION:=1}" "${WARMUP:=1}"
fi
ROUNDS=${ROUNDS:-21}
DURATION=${DURATION:-3}
WARMUP=${WARMUP:-1}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-1}
SCENARIOS=${SCENARIOS:-$ALL_SCENARIOS}
HS256_TOKENS=${HS256_TOKENS:-50000}
ASYM_TOKENS=${ASYM_TOKENS:-20000}
JWT_AUTH_EXTRA=${JWT_AUTH_EXTRA:-}
MODE=${MODE:-alternate}
MIN_BUSY=${MIN_BUSY:-90}
RETRIES=${RETRIES:-3}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}

log() { printf '==> %s\n' "$*" >&2; }
die() {
	printf 'e2e.sh: %s\n' "$*" >&2
	exit 1
}

# ensure_apt is xcaddy.sh's: installs missing Debian packages, apt-get update at most once.
# shellcheck source=.ci/ensure_apt.sh
. .ci/ensure_apt.sh

check_settings() {
	local name
	for name in ROUNDS DURATION WARMUP CONNECTIONS THREADS HS256_TOKENS ASYM_TOKENS; do
		[[ ${!name} =~ ^[1-9][0-9]*$ ]] || die "$name=${!name} is not a positive whole number"
	done
	for name in MIN_BUSY RETRIES; do
		[[ ${!name} =~ ^[0-9]+$ ]] || die "$name=${!name} is not a whole number"
	done
	((MIN_BUSY <= 100)) || die "MIN_BUSY=$MIN_BUSY is a percentage, at most 100"
	for name in SERVER_CPU CLIENT_CPU; do
		[[ ${!name} =~ ^[0-9]+$ ]] || die "$name=${!name} is not a CPU number"
	done
	((CONNECTIONS >= THREADS)) || die "CONNECTIONS=$CONNECTIONS must be at least THREADS=$THREADS"
	case $MODE in
	alternate) ;;
	concurrent)
		((CONNECTIONS >= 2 * THREADS)) || die "MODE=concurrent splits CONNECTIONS=$CONNECTIONS between two wrk of THREADS=$THREADS each; use at least $((2 * THREADS))"
		;;
	*) die "MODE=$MODE is unknown; choose alternate or concurrent" ;;
	esac
	[[ $SERVER_CPU != "$CLIENT_CPU" ]] || die "SERVER_CPU and CLIENT_CPU must differ, so that wrk does not take the server's CPU time"
	local s
	for s in $SCENARIOS; do
		[[ " $KNOWN_SCENARIOS " == *" $s "* ]] || die "unknown scenario $s; choose from: $KNOWN_SCENARIOS"
	done
	[[ $JWT_AUTH_EXTRA != *[$'\n'{}]* ]] || die "JWT_AUTH_EXTRA must be one subdirective line without braces"
	[[ -n ${SCENARIOS// /} ]] || die "SCENARIOS is empty; choose from: $KNOWN_SCENARIOS"
}

check_tools() {
	ensure_apt wrk
	command -v wrk >/dev/null 2>&1 || die "wrk is not installed (Debian package wrk)"
	command -v taskset >/dev/null 2>&1 || ensure_apt util-linux
	command -v taskset >/dev/null 2>&1 || die "taskset is not installed (Debian package util-linux)"
	local cpu
	for cpu in "$SERVER_CPU" "$CLIENT_CPU"; do
		taskset -c "$cpu" true 2>/dev/null || die "CPU $cpu is not available to this process (nproc: $(nproc)); set SERVER_CPU and CLIENT_CPU"
	done
	[[ -r /proc/self/stat ]] || die "/proc is needed to read the server's CPU time"
}

# State, cleaned up on exit.
tmp=""
declare -A pid=() port=() wrk_pid=()
declare -A pool_size=() # lines in each tokens file under $tmp/keys

cleanup() {
	local name i
	# A wrk still running (MODE=concurrent, when the other one failed) goes first.
	for name in "${!wrk_pid[@]}"; do
		kill -TERM "${wrk_pid[$name]}" 2>/dev/null || true
	done
	for name in "${!pid[@]}"; do
		kill -TERM "${pid[$name]}" 2>/dev/null || true
	done
	for name in "${!pid[@]}"; do
		for ((i = 0; i < 50; i++)); do
			kill -0 "${pid[$name]}" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "${pid[$name]}" 2>/dev/null || true
		wait "${pid[$name]}" 2>/dev/null || true
	done
	if [[ -n $tmp ]]; then
		rm -rf "$tmp"
	fi
}

# free_port prints a loopback port that nothing listens on and that this run has not taken yet.
free_port() {
	local p i
	for ((i = 0; i < 200; i++)); do
		p=$((20000 + RANDOM % 40000))
		if [[ " ${port[*]} " == *" $p "* ]]; then
			continue
		fi
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			printf '%s\n' "$p"
			return
		fi
	done
	die "found no free loopback port"
}

# http_status prints the status code of GET /$FILE on the port, with the token when one is given.
http_status() {
	local p=$1 token=${2:-}
	(
		exec 3<>"/dev/tcp/127.0.0.1/$p"
		printf '%s\r\n' "GET /$FILE HTTP/1.0" "Host: 127.0.0.1:$p" >&3
		if [[ -n $token ]]; then
			printf '%s\r\n' "Authorization: Bearer $token" >&3
		fi
		printf '\r\n' >&3
		local version code
		read -r -t 5 version code _ <&3
		[[ $version == HTTP/* ]] && printf '%s\n' "$code"
	) 2>/dev/null
}

# write_caddyfile writes $tmp/$name.Caddyfile: file_server on its port, behind jwt_auth with the
# given subdirective (and JWT_AUTH_EXTRA) unless that is empty. Nothing is logged per request and
# nothing is written outside $tmp (no admin endpoint, no autosave, no certificates).
write_caddyfile() {
	local name=$1 auth=$2 guard=""
	if [[ -n $auth ]]; then
		guard=$(printf '\tjwt_auth {\n\t\t%s\n\t\t%s\n\t}' "$auth" "$JWT_AUTH_EXTRA")
	fi
	cat >"$tmp/$name.Caddyfile" <<EOF
{
	admin off
	auto_https off
	persist_config off
	skip_install_trust
	storage file_system $tmp/home-$name/storage
	grace_period 1s
}

http://127.0.0.1:${port[$name]} {
	bind 127.0.0.1
	root * $tmp/site
$guard
	file_server
}
EOF
}

# start_caddy starts bin/caddy for configuration name, pinned to SERVER_CPU, with HOME and the
# XDG directories inside $tmp. Pinning also makes the Go runtime default GOMAXPROCS to 1.
start_caddy() {
	local name=$1 home="$tmp/home-$1"
	mkdir -p "$home"
	env -u CADDY_ADMIN HOME="$home" XDG_CONFIG_HOME="$home/config" XDG_DATA_HOME="$home/data" \
		taskset -c "$SERVER_CPU" "$PWD/$CADDY_BIN" run --config "$tmp/$name.Caddyfile" --adapter caddyfile \
		>"$tmp/$name.log" 2>&1 </dev/null &
	pid[$name]=$!
}

# wait_ready waits until configuration name answers on its port.
wait_ready() {
	local name=$1 i
	for ((i = 0; i < 150; i++)); do
		if ! kill -0 "${pid[$name]}" 2>/dev/null; then
			cat "$tmp/$name.log" >&2
			die "caddy ($name) exited; its log is above"
		fi
		if [[ -n $(http_status "${port[$name]}") ]]; then
			return
		fi
		sleep 0.1
	done
	cat "$tmp/$name.log" >&2
	die "caddy ($name) did not answer on port ${port[$name]} within 15s; its log is above"
}

# expect_status fails unless GET /$FILE on configuration name answers want (with the token if given).
expect_status() {
	local name=$1 want=$2 token=${3:-} got
	got=$(http_status "${port[$name]}" "$token") || true
	[[ $got == "$want" ]] || die "caddy ($name) answered ${got:-nothing} to a request ${token:+with a token }${token:-without a token}, want $want"
}

# cpu_ticks prints utime + stime of a process (all its threads), in clock ticks. The fields are
# counted after the last ')' because the command name may contain spaces or parentheses.
cpu_ticks() {
	local stat fields
	stat=$(<"/proc/$1/stat")
	read -r -a fields <<<"${stat##*) }"
	# fields[0] is field 3 (state); utime and stime are fields 14 and 15.
	printf '%s\n' $((fields[11] + fields[12]))
}

# wrk_start starts wrk in the background for secs seconds against configuration name with conns
# connections, sending the tokens of pool (a file) from the pool's current position on; its output
# goes to $tmp/wrk-$name.out. wrk_finish waits for it.
declare -A position=()
wrk_start() {
	local name=$1 pool=$2 secs=$3 conns=$4
	timeout $((secs + 60)) taskset -c "$CLIENT_CPU" wrk --threads "$THREADS" \
		--connections "$conns" --duration "${secs}s" --timeout 10s --script bench/tokens.lua \
		"http://127.0.0.1:${port[$name]}/$FILE" -- "$tmp/keys/$pool" "${position[$name:$pool]:-0}" "$THREADS" \
		>"$tmp/wrk-$name.out" 2>&1 &
	wrk_pid[$name]=$!
}

# wrk_finish waits for the wrk that wrk_start started against configuration name with pool, and
# sets wrk_requests and wrk_seconds (the run's actual length). Any non-2xx response or socket
# error is fatal.
wrk_requests=0 wrk_seconds=0
wrk_finish() {
	local name=$1 pool=$2 out="$tmp/wrk-$1.out" key="$1:$2"
	if ! wait "${wrk_pid[$name]}"; then
		cat "$out" >&2
		die "wrk failed against $name"
	fi
	wrk_requests=$(awk '$2 == "requests" && $3 == "in" { print $1 }' "$out")
	wrk_seconds=$(awk '$2 == "requests" && $3 == "in" { print $4 + 0 }' "$out")
	local bad
	bad=$(awk '
		/Non-2xx or 3xx responses:/ { n += $NF }
		/Socket errors:/ { gsub(",", ""); n += $4 + $6 + $8 + $10 }
		END { print n + 0 }' "$out")
	if [[ ! $wrk_requests =~ ^[0-9]+$ ]] || ((wrk_requests == 0 || bad != 0)); then
		cat "$out" >&2
		die "wrk against $name: ${wrk_requests:-no} requests, $bad failed (non-2xx responses or socket errors)"
	fi
	position[$key]=$(((${position[$key]:-0} + wrk_requests) % ${pool_size[$pool]}))
}

# run_wrk runs wrk with CONNECTIONS connections for secs seconds against configuration name, as
# wrk_start and wrk_finish.
run_wrk() {
	wrk_start "$1" "$2" "$3" "$CONNECTIONS"
	wrk_finish "$1" "$2"
}

# wakeups prints how many rescheduling and function-call interrupts CLIENT_CPU has taken since
# boot (0 when /proc/interrupts does not list them). Nearly all of them during a run are the
# server's CPU waking wrk, which had gone idle, to take a response; see bench/README.md.
wakeups() {
	awk -v cpu="CPU$CLIENT_CPU" '
		NR == 1 { for (i = 1; i <= NF; i++) if ($i == cpu) col = i + 1; next }
		col && ($1 == "RES:" || $1 == "CAL:") { n += $col }
		END { print n + 0 }' /proc/interrupts 2>/dev/null || echo 0
}

# measure warms configuration name up, then runs wrk for DURATION seconds and sets cpu_us (server
# CPU microseconds per request), rps (requests per second), busy (the server's CPU time as a
# percentage of the run's length: about 100 when it is saturated, as it should be; lower when it
# waited for wrk or when another process took its CPU) and wake (wake-ups of wrk's CPU per
# request, see wakeups).
cpu_us=0 rps=0 busy=0 wake=0
measure() {
	local name=$1 pool=$2 t0 t1 w0 w1
	run_wrk "$name" "$pool" "$WARMUP"
	t0=$(cpu_ticks "${pid[$name]}")
	w0=$(wakeups)
	run_wrk "$name" "$pool" "$DURATION"
	w1=$(wakeups)
	t1=$(cpu_ticks "${pid[$name]}")
	wake=$(awk -v w=$((w1 - w0)) -v n="$wrk_requests" 'BEGIN { printf "%.3f", w / n }')
	cpu_us=$(us_per_request $((t1 - t0)) "$wrk_requests")
	rps=$(awk -v n="$wrk_requests" -v s="$wrk_seconds" 'BEGIN { printf "%.0f", n / s }')
	busy=$(busy_percent $((t1 - t0)) "$wrk_seconds")
}

# us_per_request prints CPU time in clock ticks per request, in microseconds.
us_per_request() {
	awk -v d="$1" -v hz="$CLK_TCK" -v n="$2" 'BEGIN { printf "%.2f", d * 1e6 / hz / n }'
}

# busy_percent prints CPU time in clock ticks as a percentage of a run of secs seconds.
busy_percent() {
	awk -v d="$1" -v hz="$CLK_TCK" -v s="$2" 'BEGIN { printf "%.0f", d / hz / s * 100 }'
}

# measure_both is measure for MODE=concurrent: configurations a and b take the load at the same
# time, each from its own wrk with half the connections, on the same server CPU, so that whatever
# slows the machine down during the run slows both alike. It sets cpu_us_a and cpu_us_b, and busy
# (both servers' CPU time together, as a percentage of the run's length).
cpu_us_a=0 cpu_us_b=0
measure_both() {
	local a=$1 b=$2 pool=$3 half=$((CONNECTIONS / 2)) a0 a1 b0 b1 na nb secs
	wrk_start "$a" "$pool" "$WARMUP" "$half"
	wrk_start "$b" "$pool" "$WARMUP" "$half"
	wrk_finish "$a" "$pool"
	wrk_finish "$b" "$pool"
	a0=$(cpu_ticks "${pid[$a]}")
	b0=$(cpu_ticks "${pid[$b]}")
	wrk_start "$a" "$pool" "$DURATION" "$half"
	wrk_start "$b" "$pool" "$DURATION" "$half"
	wrk_finish "$a" "$pool"
	na=$wrk_requests secs=$wrk_seconds
	wrk_finish "$b" "$pool"
	nb=$wrk_requests
	a1=$(cpu_ticks "${pid[$a]}")
	b1=$(cpu_ticks "${pid[$b]}")
	cpu_us_a=$(us_per_request $((a1 - a0)) "$na")
	cpu_us_b=$(us_per_request $((b1 - b0)) "$nb")
	busy=$(busy_percent $((a1 - a0 + b1 - b0)) "$secs")
}

# cpu_use prints how busy all CPUs were, in percent, over the next second (from /proc/stat).
cpu_use() {
	local a b
	a=$(awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat)
	sleep 1
	b=$(awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat)
	awk -v a="$a" -v b="$b" 'BEGIN {
		split(a, x, " "); split(b, y, " ")
		busy = y[1] - x[1]; idle = y[2] - x[2]
		printf "%.0f", (busy + idle > 0) ? busy * 100 / (busy + idle) : 0 }'
}

# median prints the median of its arguments.
median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

main() {
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	# Only the table goes to stdout (kept as fd $out); apt, the build and the progress go to stderr.
	local out
	exec {out}>&1 1>&2
	check_settings
	check_tools
	CLK_TCK=$(getconf CLK_TCK)

	local scenarios=() s
	read -r -a scenarios <<<"$SCENARIOS"
	local per_run=$((2 * (WARMUP + DURATION)))
	if [[ $MODE == concurrent ]]; then
		per_run=$((WARMUP + DURATION))
	fi
	local total=$((${#scenarios[@]} * ROUNDS * per_run))
	log "plan: ${#scenarios[@]} scenarios x $ROUNDS rounds x $((per_run))s ($MODE) = about $((total / 60 + 1)) min of load"

	local use
	use=$(cpu_use)
	if ((use > 10)); then
		log "warning: the CPUs are ${use}% busy before the start; other work makes the figures noisy"
	fi

	log "building $CADDY_BIN"
	./xcaddy.sh build

	tmp=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-e2e.XXXXXX")
	mkdir -p "$tmp/site" "$tmp/keys"
	head -c 1024 /dev/zero | tr '\0' 'x' >"$tmp/site/$FILE"

	log "minting keys and tokens (HS256: $HS256_TOKENS, ES256 and EdDSA: $ASYM_TOKENS each)"
	go build -o "$tmp/mint" ./bench/mint
	# The tokens outlive the run by an hour; the raw signature checks are timed on the server's CPU.
	taskset -c "$SERVER_CPU" "$tmp/mint" -out "$tmp/keys" -hs256 "$HS256_TOKENS" -es256 "$ASYM_TOKENS" \
		-eddsa "$ASYM_TOKENS" -ttl "$((total + 3600))s" -baseline >"$tmp/baseline"
	local -A raw_ns=()
	local alg ns
	while read -r alg ns; do
		raw_ns[${alg,,}]=$ns
	done <"$tmp/baseline"
	for alg in hs256 es256 eddsa; do
		head -n 1 "$tmp/keys/$alg.tokens" >"$tmp/keys/$alg.reused"
		pool_size[$alg.reused]=1
		pool_size[$alg.tokens]=$(wc -l <"$tmp/keys/$alg.tokens")
	done

	# One Caddy per configuration, all started up front and kept across rounds.
	local -A auth=(
		[plain]=""
		[hs256]="secret {file.$tmp/keys/secret}"
		[es256]="public_key $tmp/keys/es256.pem"
		[eddsa]="public_key $tmp/keys/eddsa.pem"
		[aa]="" # a second plain Caddy
	)
	local configs=(plain) name
	for alg in hs256 es256 eddsa; do
		if [[ " $SCENARIOS " == *"-$alg "* ]]; then
			configs+=("$alg")
		fi
	done
	if [[ " $SCENARIOS " == *" aa "* ]]; then
		configs+=(aa)
	fi
	for name in "${configs[@]}"; do
		port[$name]=$(free_port)
		write_caddyfile "$name" "${auth[$name]}"
		start_caddy "$name"
	done
	for name in "${configs[@]}"; do
		wait_ready "$name"
		if [[ -z ${auth[$name]} ]]; then
			expect_status "$name" 200
		else
			expect_status "$name" 401
			expect_status "$name" 200 "$(<"$tmp/keys/$name.reused")"
			expect_status "$name" 200 "$(tail -n 1 "$tmp/keys/$name.tokens")"
		fi
		log "caddy ($name) pid ${pid[$name]} on 127.0.0.1:${port[$name]}, CPU $SERVER_CPU"
	done

	local load_before
	load_before=$(cut -d' ' -f1-3 /proc/loadavg)
	local rows=() disturbed=() min_busy round_busy try order=() kind pool r plain_us jwt_us ratios plains jwts
	local wake_plain wake_jwt plain_wakes jwt_wakes wake_rows=()
	for s in "${scenarios[@]}"; do
		kind=${s%%-*}
		alg=${s#*-}
		if [[ $s == aa ]]; then
			pool=hs256.reused # the same requests as reused-hs256
		elif [[ $kind == reused ]]; then
			pool=$alg.reused
		else
			pool=$alg.tokens
		fi
		ratios=() plains=() jwts=() plain_wakes=() jwt_wakes=() min_busy=100
		for ((r = 1; r <= ROUNDS; r++)); do
			# Alternate which configuration goes first (ABBA...), so that a drift in the machine's
			# speed during a round does not favour one side.
			if ((r % 2)); then order=(plain "$alg"); else order=("$alg" plain); fi
			# A round in which the server was not saturated (another process took its CPU, or wrk's)
			# is measured again, at most RETRIES times; the last try counts, and if it was still
			# disturbed the scenario is reported as such.
			for ((try = 0; try <= RETRIES; try++)); do
				round_busy=100
				if [[ $MODE == concurrent ]]; then
					measure_both plain "$alg" "$pool"
					plain_us=$cpu_us_a jwt_us=$cpu_us_b round_busy=$busy
					log "$s round $r/$ROUNDS: plain $plain_us, $([[ $alg == aa ]] && echo 'plain 2' || echo jwt_auth) $jwt_us CPU-µs/req at once (servers busy $busy% together)"
				else
					for name in "${order[@]}"; do
						measure "$name" "$pool"
						((busy >= round_busy)) || round_busy=$busy
						if [[ $name == plain ]]; then
							plain_us=$cpu_us wake_plain=$wake
							log "$s round $r/$ROUNDS: plain    $cpu_us CPU-µs/req ($rps req/s, server busy $busy%)"
						else
							jwt_us=$cpu_us wake_jwt=$wake
							log "$s round $r/$ROUNDS: $([[ $name == aa ]] && echo 'plain 2 ' || echo jwt_auth) $cpu_us CPU-µs/req ($rps req/s, server busy $busy%)"
						fi
					done
				fi
				if ((round_busy >= MIN_BUSY)); then
					break
				fi
				if ((try < RETRIES)); then
					log "$s round $r/$ROUNDS: the server was busy only $round_busy% of a run (< MIN_BUSY=$MIN_BUSY%); measuring the round again"
				fi
			done
			((round_busy >= min_busy)) || min_busy=$round_busy
			plains+=("$plain_us")
			jwts+=("$jwt_us")
			if [[ $MODE != concurrent ]]; then
				plain_wakes+=("$wake_plain")
				jwt_wakes+=("$wake_jwt")
			fi
			ratios+=("$(awk -v j="$jwt_us" -v p="$plain_us" 'BEGIN { printf "%.4f", j / p }')")
		done
		rows+=("$(row "$s" "$alg" "${ratios[*]}" "${plains[*]}" "${jwts[*]}" "${raw_ns[$alg]:-0}" "$min_busy")")
		if ((${#plain_wakes[@]})); then
			wake_rows+=("$s $(median "${plain_wakes[@]}") $(median "${jwt_wakes[@]}")")
		fi
		if ((min_busy < MIN_BUSY)); then
			disturbed+=("$s")
		fi
	done
	local load_after
	load_after=$(cut -d' ' -f1-3 /proc/loadavg)

	local commit
	commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
	{
		printf '| scenario | tokens | plain CPU-µs/req | jwt_auth CPU-µs/req | jwt_auth / plain (median) | range over rounds | crypto limit | target | server busy (min) |\n'
		printf '|---|---:|---:|---:|---:|---:|---:|---:|---:|\n'
		printf '%s\n' "${rows[@]}"
		printf '\nRounds: %s x %ss (after %ss warm-up) per configuration, %s; wrk: %s connection(s), %s thread(s), on CPU %s; Caddy %s (commit %s) on CPU %s; %s; load average %s before, %s after.\n' \
			"$ROUNDS" "$DURATION" "$WARMUP" \
			"$([[ $MODE == concurrent ]] && echo 'both configurations at once (MODE=concurrent), each from its own wrk with half the connections' || echo 'alternating')" \
			"$CONNECTIONS" "$THREADS" "$CLIENT_CPU" \
			"$("$CADDY_BIN" version | cut -d' ' -f1)" "$commit" "$SERVER_CPU" \
			"$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" "$load_before" "$load_after"
		printf 'Raw signature check on the server CPU (crypto/hmac, crypto/ecdsa, crypto/ed25519): HS256 %s µs, ES256 %s µs, EdDSA %s µs.\n' \
			"$(us "${raw_ns[hs256]}")" "$(us "${raw_ns[es256]}")" "$(us "${raw_ns[eddsa]}")"
		if ((${#wake_rows[@]})); then
			# Sent by the server's CPU, and paid for there, each time a response finds wrk idle.
			local w sc wp wj other parts=()
			for w in "${wake_rows[@]}"; do
				read -r sc wp wj <<<"$w"
				other=jwt_auth
				[[ $sc != aa ]] || other='plain 2'
				parts+=("$sc: plain $wp, $other $wj")
			done
			local joined
			joined=$(printf '%s; ' "${parts[@]}")
			printf 'Wake-ups of wrk'"'"'s CPU per request (median): %s.\n' "${joined%; }"
		fi
		if ((${#disturbed[@]})); then
			printf '\nDisturbed: %s. A round of these had the server busy less than %s%% of a run even after %s retries: it waited for wrk, or another process took its CPU. Run again on an idle machine.\n' "${disturbed[*]}" "$MIN_BUSY" "$RETRIES"
		fi
		if [[ ${QUICK:-0} == 1 ]]; then
			printf '\nQUICK=1: a smoke test; these figures are too short to mean anything.\n'
		fi
	} >&"$out"
}

# us prints nanoseconds as microseconds.
us() { awk -v n="$1" 'BEGIN { printf "%.1f", n / 1000 }'; }

# row prints one table row. The crypto limit is what jwt_auth would cost if it did nothing but
# one raw signature check per request: (plain + raw) / plain. A reused token is verified once,
# so its limit is 1. Targets are issue 5's: 1.02 for a reused token, 1.05 for distinct HS256
# tokens, and 1.1 x the crypto limit for distinct ES256/EdDSA tokens.
row() {
	local s=$1 alg=$2 ratio_list=$3 plain_list=$4 jwt_list=$5 ns=$6 min_busy=$7
	local mr mp mj lo hi limit target tokens
	# shellcheck disable=SC2086 # word splitting of the lists is intended
	{
		mr=$(median $ratio_list)
		mp=$(median $plain_list)
		mj=$(median $jwt_list)
		lo=$(printf '%s\n' $ratio_list | sort -g | head -n 1)
		hi=$(printf '%s\n' $ratio_list | sort -g | tail -n 1)
	}
	if [[ $s == aa ]]; then
		# Both sides are plain Caddy: no target, the median's distance from 1.00 is noise.
		awk -v s="$s" -v p="$mp" -v j="$mj" -v r="$mr" -v lo="$lo" -v hi="$hi" -v b="$min_busy" \
			'BEGIN { printf "| %s (plain 2 / plain) | 1 | %.1f | %.1f | **%.3fx** | %.3f-%.3f | 1.00 | none: both sides are plain | %s%% |\n", s, p, j, r, lo, hi, b }'
		return
	fi
	if [[ $s == reused-* ]]; then
		tokens=1
		limit=1.00
		target=1.02
	else
		tokens=${pool_size[$alg.tokens]}
		limit=$(awk -v p="$mp" -v n="$ns" 'BEGIN { printf "%.2f", (p + n / 1000) / p }')
		if [[ $alg == hs256 ]]; then
			target=1.05
		else
			target=$(awk -v l="$limit" 'BEGIN { printf "%.2f", 1.1 * l }')
		fi
	fi
	awk -v s="$s" -v t="$tokens" -v p="$mp" -v j="$mj" -v r="$mr" -v lo="$lo" -v hi="$hi" -v l="$limit" -v g="$target" -v b="$min_busy" \
		'BEGIN { printf "| %s | %s | %.1f | %.1f | **%.3fx** | %.3f-%.3f | %s | <= %s%s | %s%% |\n", s, t, p, j, r, lo, hi, l, g, (r <= g ? "" : " (missed)"), b }'
}

main "$@"
