#!/usr/bin/env bash
# Forward-auth benchmark: the server CPU per request of Gatehouse as the auth server of a proxy.
# See bench/README.md ("bench/forward.sh").
#
#   bench/forward.sh             both scenarios, ROUNDS alternating rounds each (~5 min)
#   QUICK=1 bench/forward.sh     a smoke test: 1 round of 1 s; proves it works, measures nothing
#
# Scenarios (SCENARIOS, default both):
#   subrequest  the auth sub-request itself, with one reused (cached) HS256 token: Gatehouse's
#               jwt_forward_auth answering 200 with the identity, against a plain Caddy answering
#               `respond 200` to the same requests. CPU of the one server.
#   nginx       a 1 KiB file from nginx behind auth_request and Gatehouse, against nginx alone
#               serving it. CPU of nginx (master and worker) plus, with auth, Gatehouse.
# Settings: ROUNDS (11), DURATION seconds per measured run (3), WARMUP seconds before each (1),
# CONNECTIONS (32), SERVER_CPU (0) for the servers, CLIENT_CPU (1) for wrk.
#
# Prints progress on stderr and a Markdown table on stdout; exits non-zero when a run had a
# non-2xx answer or a socket error.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ ${QUICK:-0} == 1 ]]; then
	: "${ROUNDS:=1}" "${DURATION:=1}" "${WARMUP:=1}"
fi
ROUNDS=${ROUNDS:-11}
DURATION=${DURATION:-3}
WARMUP=${WARMUP:-1}
CONNECTIONS=${CONNECTIONS:-32}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
SCENARIOS=${SCENARIOS:-subrequest nginx}
readonly CADDY_BIN=bin/caddy

log() { printf '==> %s\n' "$*" >&2; }
die() {
	printf 'forward.sh: %s\n' "$*" >&2
	exit 1
}

# shellcheck source=.ci/ensure_apt.sh
. .ci/ensure_apt.sh
ensure_apt wrk nginx
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
CLK_TCK=$(getconf CLK_TCK)
./xcaddy.sh build >&2

tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

secret=$(head -c 48 /dev/urandom | base64 | tr -d '/+=\n' | head -c 64)
export GATEHOUSE_SECRET=$secret
token=$(HOME=$tmp $CADDY_BIN jwt-token --secret-env GATEHOUSE_SECRET --claim sub=alice --claim user_id=7 --ttl 2h)
head -c 1024 /dev/urandom | base64 -w 76 | head -c 1024 >"$tmp/1k.txt"

p_plain=$(free_port)
p_auth=$(free_port)
p_ngx=$(free_port)
p_ngx_auth=$(free_port)

global='{
	admin off
	auto_https off
	persist_config off
	servers {
		trusted_proxies static 127.0.0.1/32
		trusted_proxies_strict
	}
}'
# Sites without a host: nginx's sub-request names its upstream in Host. Each binds loopback only.
printf '%s\nhttp://:%s {\n\tbind 127.0.0.1\n\trespond 200\n}\n' "$global" "$p_plain" >"$tmp/plain.Caddyfile"
cat >"$tmp/auth.Caddyfile" <<EOF
$global
http://:$p_auth {
	bind 127.0.0.1
	jwt_forward_auth /nginx {
		secret {env.GATEHOUSE_SECRET}
		forward_claim user_id X-User-Id
		forwarded_headers x-original
	}
	jwt_forward_auth {
		secret {env.GATEHOUSE_SECRET}
		forward_claim user_id X-User-Id
	}
}
EOF

# nginx_conf <port> <with auth: 0|1>
nginx_conf() {
	local auth_lines="" auth_server=""
	if [[ $2 == 1 ]]; then
		auth_server="
	upstream gatehouse {
		server 127.0.0.1:$p_auth;
		keepalive 32;
	}"
		auth_lines="
		location = /_gatehouse {
			internal;
			proxy_pass http://gatehouse/nginx;
			proxy_http_version 1.1;
			proxy_set_header Connection \"\";
			proxy_pass_request_body off;
			proxy_set_header Content-Length \"\";
			proxy_set_header X-Original-URL \$scheme://\$http_host\$request_uri;
			proxy_set_header X-Original-Method \$request_method;
		}"
	fi
	local protect=""
	[[ $2 == 1 ]] && protect="auth_request /_gatehouse; auth_request_set \$gatehouse_user_id \$upstream_http_x_user_id;"
	cat <<EOF
$( ((EUID == 0)) && echo "user root;")
worker_processes 1;
pid $tmp/nginx-$1.pid;
error_log $tmp/nginx-$1.error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $tmp/tmp-$1;
	proxy_temp_path $tmp/tmp-$1;
	fastcgi_temp_path $tmp/tmp-$1;
	uwsgi_temp_path $tmp/tmp-$1;
	scgi_temp_path $tmp/tmp-$1;
	$auth_server
	server {
		listen 127.0.0.1:$1;
		root $tmp;
		$auth_lines
		location / {
			$protect
		}
	}
}
EOF
}
nginx_conf "$p_ngx" 0 >"$tmp/nginx-plain.conf"
nginx_conf "$p_ngx_auth" 1 >"$tmp/nginx-auth.conf"

declare -A pid
start_caddy() { # name file
	HOME=$tmp XDG_CONFIG_HOME=$tmp XDG_DATA_HOME=$tmp taskset -c "$SERVER_CPU" \
		"$CADDY_BIN" run --config "$2" --adapter caddyfile >"$tmp/$1.log" 2>&1 &
	pid[$1]=$!
	pids+=("$!")
}
start_nginx() { # name conf
	taskset -c "$SERVER_CPU" "$NGINX" -p "$tmp" -c "$2" -e "$tmp/$1.stderr.log" -g 'daemon off;' >"$tmp/$1.log" 2>&1 &
	pid[$1]=$!
	pids+=("$!")
}
start_caddy plain "$tmp/plain.Caddyfile"
start_caddy auth "$tmp/auth.Caddyfile"
start_nginx ngx "$tmp/nginx-plain.conf"
start_nginx ngx_auth "$tmp/nginx-auth.conf"

wait_port() {
	for _ in $(seq 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	die "nothing listens on 127.0.0.1:$1; see $tmp/*.log"
}
for p in "$p_plain" "$p_auth" "$p_ngx" "$p_ngx_auth"; do wait_port "$p"; done

sub_headers=(-H "Authorization: Bearer $token" -H "X-Forwarded-Method: GET" -H "X-Forwarded-Proto: https"
	-H "X-Forwarded-Host: app.example" -H "X-Forwarded-Uri: /notes/?page=2" -H "X-Forwarded-For: 203.0.113.9")
ngx_headers=(-H "Authorization: Bearer $token")

# Checks before measuring: the answers are what the scenarios claim.
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
[[ $(code "${sub_headers[@]}" "http://127.0.0.1:$p_plain/auth") == 200 ]] || die "plain Caddy does not answer 200"
[[ $(code "${sub_headers[@]}" "http://127.0.0.1:$p_auth/auth") == 200 ]] || die "jwt_forward_auth refuses the token"
[[ $(code -H "X-Forwarded-Method: GET" -H "X-Forwarded-Host: app.example" -H "X-Forwarded-Uri: /" "http://127.0.0.1:$p_auth/auth") == 401 ]] ||
	die "jwt_forward_auth lets a request without a token through"
[[ $(code "${ngx_headers[@]}" "http://127.0.0.1:$p_ngx_auth/1k.txt") == 200 ]] || die "nginx with auth_request refuses the token"
c=$(code "http://127.0.0.1:$p_ngx_auth/1k.txt")
[[ $c == 401 ]] || die "nginx with auth_request answers $c without a token, want 401"
[[ $(code "http://127.0.0.1:$p_ngx/1k.txt") == 200 ]] || die "nginx alone does not serve the file"

# ticks <pid...>: utime + stime of the processes and their children (nginx's worker), in clock
# ticks. Fields 14 and 15 of /proc/<pid>/stat, counted after the ")" that ends the command name.
ticks() {
	local sum=0 p stat
	for p in "$@" $(pgrep -P "$(echo "$@" | tr ' ' ',')" 2>/dev/null || true); do
		stat=$(<"/proc/$p/stat")
		stat=${stat##*) }
		read -r -a f <<<"$stat"
		sum=$((sum + f[11] + f[12]))
	done
	echo "$sum"
}

# run <url> <pids> <headers...>: prints "cpu_us_per_request"; wrk on CLIENT_CPU.
run() {
	local url=$1 procs=$2
	shift 2
	taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" "$@" "$url" >/dev/null
	local t0 t1 out n
	# shellcheck disable=SC2086
	t0=$(ticks $procs)
	out=$(taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" "$@" "$url")
	# shellcheck disable=SC2086
	t1=$(ticks $procs)
	if grep -q 'Non-2xx\|Socket errors' <<<"$out"; then
		die "a run had errors: $out"
	fi
	n=$(awk '/requests in/ { print $1 }' <<<"$out")
	awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" -v n="$n" 'BEGIN { printf "%.2f", d * 1e6 / hz / n }'
}

median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

printf '| scenario | without CPU-µs/req | with CPU-µs/req | ratio (median) | range over rounds |\n|---|---|---|---|---|\n'
for sc in $SCENARIOS; do
	case $sc in
	subrequest)
		a_url="http://127.0.0.1:$p_plain/auth" a_pids=${pid[plain]}
		b_url="http://127.0.0.1:$p_auth/auth" b_pids=${pid[auth]}
		hdrs=("${sub_headers[@]}") label="sub-request, cached HS256 token: plain \`respond 200\` / \`jwt_forward_auth\`"
		;;
	nginx)
		a_url="http://127.0.0.1:$p_ngx/1k.txt" a_pids=${pid[ngx]}
		b_url="http://127.0.0.1:$p_ngx_auth/1k.txt" b_pids="${pid[ngx_auth]} ${pid[auth]}"
		hdrs=("${ngx_headers[@]}") label="1 KiB file: nginx / nginx + auth_request + Gatehouse"
		;;
	*) die "unknown scenario $sc" ;;
	esac
	as=() bs=() rs=()
	for ((i = 1; i <= ROUNDS; i++)); do
		if ((i % 2)); then
			a=$(run "$a_url" "$a_pids" "${hdrs[@]}")
			b=$(run "$b_url" "$b_pids" "${hdrs[@]}")
		else
			b=$(run "$b_url" "$b_pids" "${hdrs[@]}")
			a=$(run "$a_url" "$a_pids" "${hdrs[@]}")
		fi
		as+=("$a") bs+=("$b") rs+=("$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", b / a }')")
		log "$sc round $i/$ROUNDS: $a vs $b CPU-µs/req"
	done
	lo=$(printf '%s\n' "${rs[@]}" | sort -g | head -1)
	hi=$(printf '%s\n' "${rs[@]}" | sort -g | tail -1)
	printf '| %s | %s | %s | %sx | %s-%s |\n' "$label" \
		"$(printf '%s\n' "${as[@]}" | median)" "$(printf '%s\n' "${bs[@]}" | median)" \
		"$(printf '%s\n' "${rs[@]}" | median)" "$lo" "$hi"
done
printf '\n%s rounds of %s s (after %s s unmeasured), %s connections, servers on CPU %s, wrk on CPU %s; %s; load before: %s\n' \
	"$ROUNDS" "$DURATION" "$WARMUP" "$CONNECTIONS" "$SERVER_CPU" "$CLIENT_CPU" \
	"$(git rev-parse --short HEAD 2>/dev/null || echo unknown) + working tree" "$(cut -d' ' -f1-3 /proc/loadavg)"
