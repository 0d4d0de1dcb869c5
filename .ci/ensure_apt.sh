# shellcheck shell=bash
# Sourced by xcaddy.sh and bench/e2e.sh; the caller defines log and die.

# ensure_apt installs the given Debian packages that are not installed yet, running
# apt-get update at most once per invocation, and says so when there is nothing to install.
# Non-Debian systems are left alone: the checks that need the packages will say what is missing.
# When another apt or dpkg (unattended-upgrades on a fresh machine, another terminal) holds the
# package lock, it waits for it, up to APT_LOCK_WAIT seconds (default 600), saying so, instead of
# failing with apt's "Could not get lock".
apt_updated=false

# apt_locked reports whether another process holds one of apt's or dpkg's locks: apt and dpkg
# take fcntl locks, which /proc/locks lists by device and inode (flock(1) would not see them).
apt_locked() {
	local lock ino
	for lock in /var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock /var/cache/apt/archives/lock; do
		[[ -e $lock ]] || continue
		ino=$(stat -c %i "$lock")
		if awk -v ino="$ino" '{ for (i = 1; i <= NF; i++) if ($i ~ ":" ino "$") found = 1 } END { exit !found }' /proc/locks; then
			return 0
		fi
	done
	return 1
}

# apt_run runs apt-get with the given arguments once the locks are free; apt's own
# DPkg::Lock::Timeout covers a lock taken again between the check and the run.
apt_run() {
	local waited=0 limit=${APT_LOCK_WAIT:-600}
	while apt_locked; do
		if ((waited == 0)); then
			log "another apt or dpkg is running (the package lock is held); waiting up to ${limit}s"
		fi
		((waited < limit)) || die "the package lock is still held after ${limit}s; wait for the other apt or dpkg to finish, then run again"
		sleep 2
		waited=$((waited + 2))
	done
	((waited == 0)) || log "the package lock is free after ${waited}s"
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout="$limit" "$@"
}

ensure_apt() {
	command -v dpkg >/dev/null 2>&1 || { log "no dpkg: not installing $*; install them yourself if a check fails"; return 0; }
	local missing=() pkg
	for pkg in "$@"; do
		if ! dpkg -s "$pkg" >/dev/null 2>&1; then
			missing+=("$pkg")
		fi
	done
	if ((${#missing[@]} == 0)); then
		log "Debian packages: all $# present, nothing to install"
		return 0
	fi
	local sudo=()
	if [[ $(id -u) != 0 ]]; then
		command -v sudo >/dev/null 2>&1 || die "packages ${missing[*]} are missing; install them as root"
		sudo=(sudo)
	fi
	log "installing ${missing[*]}"
	if ! $apt_updated; then
		apt_run update -q
		apt_updated=true
	fi
	apt_run install -y -q --no-install-recommends "${missing[@]}"
}
