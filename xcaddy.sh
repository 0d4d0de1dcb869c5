#!/usr/bin/env bash
# Build, run and test Caddy with Gatehouse from this checkout.
#
#   ./xcaddy.sh build   write bin/caddy (Caddy v2.11.9 + the working tree's Gatehouse)
#   ./xcaddy.sh run     build, start the example Django app (examples/django) on 127.0.0.1:8000, then
#                       serve the demo site (Caddyfile.example) on http://localhost:8080
#   ./xcaddy.sh test    install what the tests need, build, and run every check CI runs
#   ./xcaddy.sh test --quick   gofmt, go vet and the unit tests only
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

readonly CADDY_VERSION=v2.11.9
readonly XCADDY_VERSION=v0.4.5
readonly MODULE=github.com/gatehouse-dev/gatehouse
readonly CADDY_BIN=bin/caddy
readonly STAMP=bin/.caddy.stamp

# Debian packages the example app needs (./xcaddy.sh run starts it; it is run by absolute paths,
# /usr/bin/gunicorn, so that another python3 on PATH without Django is not used by mistake).
readonly APP_APT_PACKAGES=(python3-django python3-djangorestframework python3-djangorestframework-simplejwt gunicorn)
# Debian packages the tests need: go test -race needs cgo, hence a C compiler and libc headers;
# fetching modules from the Go module proxy over HTTPS needs the CA certificates; the interop and
# production tests run the Django apps under gunicorn; the browser test drives Debian's Chromium
# with Node and playwright-core (integration/browser; it runs npm ci there itself), and
# fonts-liberation makes its screenshots legible; the OpenID provider test runs npm's oidc-provider
# under Node (integration/oidcprovider; it too runs npm ci there itself); the forward-auth tests run
# Debian's nginx (auth_request) and HAProxy (a Lua action) in front of Gatehouse
# (integration/forwardauth_test.go; each starts its own on a loopback port, the packages' services
# are not used); the shared-store tests start Debian's redis-server the same way
# (internal/redisstore, integration/redis_test.go).
readonly APT_PACKAGES=(ca-certificates gcc libc6-dev "${APP_APT_PACKAGES[@]}" chromium fonts-liberation nodejs nginx haproxy redis-server)

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'xcaddy.sh: %s\n' "$*" >&2; exit 1; }

# ensure_apt (shared with bench/e2e.sh) installs missing Debian packages.
# shellcheck source=.ci/ensure_apt.sh
. .ci/ensure_apt.sh

# xcaddy_cmd prints the path of xcaddy, installing it where go install puts binaries (GOBIN, else
# the first GOPATH entry's bin) when it is neither on PATH nor there.
xcaddy_cmd() {
	local gobin
	gobin=$(go env GOBIN)
	if [[ -z $gobin ]]; then
		gobin=$(go env GOPATH)
		gobin="${gobin%%:*}/bin"
	fi
	if command -v xcaddy >/dev/null 2>&1; then
		command -v xcaddy
		return
	fi
	if [[ ! -x $gobin/xcaddy ]]; then
		log "installing xcaddy $XCADDY_VERSION"
		go install "github.com/caddyserver/xcaddy/cmd/xcaddy@$XCADDY_VERSION" >&2
	fi
	printf '%s\n' "$gobin/xcaddy"
}

# build_fingerprint hashes everything bin/caddy is made from: the module's non-test Go files,
# go.mod and go.sum, the versions, and the Go toolchain and target. Test files never reach the
# binary, so editing a test does not force a rebuild.
build_fingerprint() {
	{
		printf '%s\n' "$CADDY_VERSION" "$XCADDY_VERSION"
		go version
		go env GOOS GOARCH GOAMD64 CGO_ENABLED GOFLAGS
		find . \( -path ./bin -o -path ./.git -o -path ./.gatehouse -o -name testdata \) -prune -o \
			-type f \( -name '*.go' ! -name '*_test.go' -o -name go.mod -o -name go.sum \) -print0 |
			LC_ALL=C sort -z | xargs -0 sha256sum
	} | sha256sum | cut -d' ' -f1
}

cmd_build() {
	local xcaddy fp
	xcaddy=$(xcaddy_cmd)
	fp=$(build_fingerprint)
	if [[ -x $CADDY_BIN && -f $STAMP && $(<"$STAMP") == "$fp" ]]; then
		log "$CADDY_BIN is up to date"
		return
	fi
	mkdir -p bin
	rm -f "$STAMP"
	# Build next to the target and rename, so a running bin/caddy is replaced, not overwritten
	# (writing over a running executable fails with "text file busy").
	local tmp="bin/.caddy.$$"
	trap "rm -f '$tmp'" EXIT
	log "building $CADDY_BIN (Caddy $CADDY_VERSION with $MODULE from $PWD)"
	# The version label plus the local path: a module proxy that does not serve the module answers
	# 403, and a bare --with path=./ then fails.
	"$xcaddy" build "$CADDY_VERSION" --output "$tmp" --with "$MODULE@v0.0.0=$PWD"
	mv -f "$tmp" "$CADDY_BIN"
	trap - EXIT
	printf '%s\n' "$fp" >"$STAMP"
}

# load_secret exports GATEHOUSE_SECRET, generating a random one into .gatehouse/secret on first use,
# and sets secret_hint to the shell words that export it again.
secret_hint='# GATEHOUSE_SECRET: the value you exported before ./xcaddy.sh run'
load_secret() {
	if [[ -n ${GATEHOUSE_SECRET:-} ]]; then
		return
	fi
	local file=.gatehouse/secret
	if [[ ! -s $file ]]; then
		log "generating a random HMAC secret in $file"
		(
			umask 077
			mkdir -p .gatehouse
			head -c 48 /dev/urandom | base64 | tr -d '\n' >"$file.tmp"
			mv -f "$file.tmp" "$file"
		)
	fi
	chmod 600 "$file"
	GATEHOUSE_SECRET=$(<"$file")
	export GATEHOUSE_SECRET
	secret_hint="export GATEHOUSE_SECRET=\$(cat $file)"
}

# wait_and_greet waits until the demo site answers, then prints what to try.
wait_and_greet() {
	local token=$1 i
	for ((i = 0; i < 150; i++)); do
		if (exec 3<>/dev/tcp/127.0.0.1/8080) 2>/dev/null; then
			cat >&2 <<EOF

=== Gatehouse demo is up ===============================================================
Public page:     http://localhost:8080/
Private page:    http://localhost:8080/private/   (log in: demo / gatehouse-demo, DEMO ONLY)
The app's API:   http://localhost:8080/api/whoami/ (Django under gunicorn on 127.0.0.1:8000)

Try the API with a demo token (user 1, valid for 1 hour):

  curl -i http://localhost:8080/api/whoami/
  curl -i -H 'Authorization: Bearer $token' http://localhost:8080/api/whoami/

Or log in as the demo user (DEMO ONLY; defined in Caddyfile.example) for an access and a refresh token:

  curl -s -X POST -d username=demo -d password=gatehouse-demo http://localhost:8080/api/token/

Mint another token (the secret is read from the environment, never from the command line):

  $secret_hint
  bin/caddy jwt-token --secret-env GATEHOUSE_SECRET --claim sub=alice --claim user_id=7 --ttl 15m

Stop the server and the app with Ctrl-C.
=========================================================================================

EOF
			return
		fi
		sleep 0.1
	done
}

readonly APP_ADDR=127.0.0.1:8000

# start_app starts the example Django app (examples/django) under gunicorn on $APP_ADDR, in the
# background, sets app_pid and waits until it listens.
app_pid=
start_app() {
	log "starting the example app (examples/django) under gunicorn on $APP_ADDR"
	env -u PYTHONPATH -u PYTHONHOME PYTHONDONTWRITEBYTECODE=1 \
		/usr/bin/gunicorn --bind "$APP_ADDR" --workers 2 --chdir examples/django exampleapp.wsgi &
	app_pid=$!
	local i
	for ((i = 0; i < 150; i++)); do
		if (exec 3<>"/dev/tcp/${APP_ADDR%:*}/${APP_ADDR##*:}") 2>/dev/null; then
			return
		fi
		kill -0 "$app_pid" 2>/dev/null || die "the example app did not start (its output is above)"
		sleep 0.1
	done
	die "the example app did not listen on $APP_ADDR within 15s"
}

# stop_app stops the example app, if it runs, and waits for it.
stop_app() {
	if [[ -n $app_pid ]]; then
		kill -TERM "$app_pid" 2>/dev/null || true
		wait "$app_pid" 2>/dev/null || true
		app_pid=
	fi
}

cmd_run() {
	cmd_build
	local port
	for port in 8080 "${APP_ADDR##*:}"; do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			die "something already listens on port $port; stop it first"
		fi
	done
	ensure_apt "${APP_APT_PACKAGES[@]}"
	load_secret
	local token
	token=$("$CADDY_BIN" jwt-token --secret-env GATEHOUSE_SECRET --claim sub=demo --claim user_id=1 --ttl 1h)
	# The app goes down with Caddy: on Ctrl-C, on an error, or when Caddy exits.
	trap stop_app EXIT
	trap 'exit 130' INT TERM
	start_app
	wait_and_greet "$token" &
	unset GATEHOUSE_APP # Caddyfile.example's default, 127.0.0.1:8000, is where the app listens
	"$CADDY_BIN" run --config Caddyfile.example --adapter caddyfile
}

# fuzz_targets prints "dir name" for every fuzz target in the module's test files.
fuzz_targets() {
	local line file name
	grep -rHo --include='*_test.go' --exclude-dir=bin --exclude-dir=.git '^func Fuzz[A-Za-z0-9_]*(' . |
		LC_ALL=C sort |
		while IFS= read -r line; do
			file=${line%%:*}
			name=${line#*:func }
			printf '%s %s\n' "$(dirname "$file")" "${name%(}"
		done || true
}

# phase starts a named step of cmd_test, ending the one before with its time; phase_end ends the
# last. The times go to the summary printed at the end.
phase_name='' phase_start=0 phase_times=()
phase() {
	phase_end
	phase_name=$1
	phase_start=$SECONDS
	log "$phase_name"
}
phase_end() {
	if [[ -n $phase_name ]]; then
		phase_times+=("$(printf '%5ds  %s' $((SECONDS - phase_start)) "$phase_name")")
		log "$phase_name: $((SECONDS - phase_start))s"
	fi
	phase_name=''
}

# go_test runs go test -v with the given arguments, keeping the full output in bin/test-<name>.log
# and showing the package results, the failures and their messages; then it prints how many
# tests (and subtests) passed and failed. It fails when go test does.
go_test() {
	local name=$1 logfile
	shift
	logfile=bin/test-$name.log
	mkdir -p bin
	local rc=0
	go test -v "$@" >"$logfile" 2>&1 || rc=$?
	grep -E '^(ok|FAIL|panic:|--- FAIL|\s+--- FAIL)|^\s+\S+_test\.go:[0-9]+:|^(fatal error|WARNING: DATA RACE)' "$logfile" |
		grep -v -E '^ok .*\[no test files\]' || true
	local tests subtests failed
	tests=$(grep -c -E '^--- PASS' "$logfile" || true)
	subtests=$(grep -c -E '^\s+--- PASS' "$logfile" || true)
	failed=$(grep -c -E '^\s*--- FAIL' "$logfile" || true)
	log "$name: $tests tests and $subtests subtests passed, $failed failed (full output: $logfile)"
	return "$rc"
}

# plugin_tests runs the Traefik plugin's own modules, which ./... at the root does not reach:
# traefik/ compiled, and traefik/yaegitest, which loads it in Yaegi v0.16.1 as Traefik does.
plugin_tests() {
	local dir
	for dir in traefik traefik/yaegitest; do
		log "go vet and go test -race in $dir"
		(cd "$dir" && go vet ./... && CGO_ENABLED=1 go test -race -count=1 ./...) || exit 1
	done
}

cmd_test() {
	local quick=false
	case ${1:-} in
	"") ;;
	--quick) quick=true ;;
	*) die "test takes no argument but --quick (unit tests only)" ;;
	esac
	local started=$SECONDS

	phase "gofmt"
	local unformatted
	unformatted=$(gofmt -l .)
	if [[ -n $unformatted ]]; then
		printf 'not gofmt-ed (run gofmt -w on them):\n%s\n' "$unformatted" >&2
		exit 1
	fi

	phase "go vet"
	go vet ./...

	if $quick; then
		# The unit tests need no Caddy binary, no Debian packages and no servers.
		phase "unit tests (go test -race, every package but integration)"
		CGO_ENABLED=1 go_test unit -race -count=1 $(go list ./... | grep -v '/integration$')
		phase "Traefik plugin (traefik/, traefik/yaegitest/)"
		plugin_tests
		phase_end
		summary "$started"
		return
	fi

	phase "Debian packages"
	ensure_apt "${APT_PACKAGES[@]}"
	# npm: Debian's, unless the installed nodejs brings its own (NodeSource's does, and conflicts
	# with Debian's npm package).
	command -v npm >/dev/null 2>&1 || ensure_apt npm

	phase "build $CADDY_BIN"
	cmd_build

	# The Node packages of the browser and OpenID tests, from their lock files, once, here: the
	# tests install them themselves when missing, but several tests of one folder start at once.
	phase "npm ci (integration/browser, oidcprovider, oidcclient)"
	local dir
	for dir in integration/browser integration/oidcprovider integration/oidcclient; do
		if [[ ! -d $dir/node_modules ]]; then
			(cd "$dir" && npm ci --no-audit --no-fund >/dev/null) || { log "npm ci failed in $dir"; exit 1; }
		fi
	done
	log "node packages present"

	phase "go test -race (unit and integration tests)"
	CGO_ENABLED=1 go_test all -race -count=1 ./...

	phase "Traefik plugin (traefik/ compiled, traefik/yaegitest/ under Yaegi)"
	plugin_tests

	phase "benchmarks, 100 iterations each"
	go test -run '^$' -bench . -benchtime 100x ./... >bin/test-bench.log 2>&1 || { tail -50 bin/test-bench.log; exit 1; }
	log "$(grep -c '^Benchmark' bin/test-bench.log) benchmarks ran (full output: bin/test-bench.log)"

	phase "fuzz targets, 10s each"
	local dir name n=0
	while read -r dir name; do
		log "fuzz $name in $dir for 10s"
		go test -run '^$' -fuzz "^$name\$" -fuzztime 10s "$dir/"
		n=$((n + 1))
	done < <(fuzz_targets)
	log "$n fuzz targets ran"

	phase "soak smoke run: 20 s of mixed traffic, no 5xx, no growth (bench/soak.sh)"
	DURATION=20 bench/soak.sh

	# Only proves that the end-to-end benchmark still builds, mints, starts every configuration
	# and gets 200s and 401s where it should: one 1 s round measures nothing.
	phase "end-to-end benchmark smoke runs (QUICK=1 bench/e2e.sh, alone and concurrent)"
	QUICK=1 bench/e2e.sh >/dev/null
	QUICK=1 MODE=concurrent SCENARIOS="distinct-hs256 aa" bench/e2e.sh >/dev/null
	phase_end
	summary "$started"
}

# summary prints the time of each phase and the total.
summary() {
	log "all checks passed in $((SECONDS - $1))s:"
	printf '%s\n' "${phase_times[@]}" >&2
}

usage() {
	cat >&2 <<EOF
usage: $0 <command>

  build   build bin/caddy: Caddy $CADDY_VERSION with Gatehouse from this checkout (xcaddy $XCADDY_VERSION)
  run     build, start the example Django app (examples/django, gunicorn on 127.0.0.1:8000), then
          serve the demo site (Caddyfile.example) on http://localhost:8080 and print a
          curl command with a demo token; the HMAC secret is \$GATEHOUSE_SECRET or, if unset, a
          random one kept in .gatehouse/secret
  test    install what the tests need, build, check gofmt and go vet, run every test with the race
          detector, every benchmark briefly, every fuzz target for 10s, and smoke runs
          of bench/soak.sh and bench/e2e.sh; prints each phase with its time and the test counts
          (about 10 minutes on 2 cores)
  test --quick
          gofmt, go vet and the unit tests only (every package but integration/): no Debian
          packages, no Caddy build, no servers; about a minute
EOF
}

case ${1:-} in
build) cmd_build ;;
run) cmd_run ;;
test) cmd_test "${@:2}" ;;
*)
	usage
	exit 2
	;;
esac
