#!/bin/sh
# Install what the build and the tests need, when it is missing (Debian, as root).
# Used by `make run`, `make test` and .ci/run; does nothing when all is there.
set -e
cd "$(dirname "$0")/.."

need=""
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
for p in build-essential pkg-config libfuse3-dev fuse3 libsqlite3-dev sqlite3 \
         bats attr jq time nodejs npm hyperfine util-linux python3 rsync vim; do
	have_pkg "$p" || need="$need $p"
done
# npm may come with nodejs from another source; do not ask apt for it then.
if command -v npm >/dev/null 2>&1; then need=$(echo "$need" | sed 's/ npm\b//'); fi
if command -v node >/dev/null 2>&1; then need=$(echo "$need" | sed 's/ nodejs\b//'); fi

if [ -n "$(echo $need)" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "kvfs: missing packages:$need (run as root, or install them)" >&2
		exit 1
	fi
	echo "kvfs: installing$need"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq </dev/null
	apt-get install -y -qq $need </dev/null >/dev/null
fi

# The real Deno, for the interop tests, from the npm registry: exactly the
# version package-lock.json names (npm ci leaves the lock file as it is).
if [ ! -x node_modules/.bin/deno ]; then
	echo "kvfs: installing deno (npm)"
	npm ci --no-audit --no-fund --loglevel=error </dev/null >/dev/null
fi
