# shellcheck shell=bash
# Sourced by xcaddy.sh and bench/e2e.sh; the caller defines log and die.

# ensure_apt installs the given Debian packages that are not installed yet, running
# apt-get update at most once per invocation. Non-Debian systems are left alone: the checks
# that need the packages will say what is missing.
apt_updated=false
ensure_apt() {
	command -v dpkg >/dev/null 2>&1 || { log "no dpkg: not installing $*; install them yourself if a check fails"; return 0; }
	local missing=() pkg
	for pkg in "$@"; do
		if ! dpkg -s "$pkg" >/dev/null 2>&1; then
			missing+=("$pkg")
		fi
	done
	((${#missing[@]})) || return 0
	local sudo=()
	if [[ $(id -u) != 0 ]]; then
		command -v sudo >/dev/null 2>&1 || die "packages ${missing[*]} are missing; install them as root"
		sudo=(sudo)
	fi
	log "installing ${missing[*]}"
	if ! $apt_updated; then
		"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
		apt_updated=true
	fi
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}
