#!/bin/sh
# `make run`: mount ./kv.sqlite3 at ./kv in the foreground; Ctrl-C unmounts.
cd "$(dirname "$0")/.."
mkdir -p kv
if grep -q " $PWD/kv fuse" /proc/mounts; then
	if stat kv >/dev/null 2>&1; then
		echo "kvfs: ./kv is mounted already (another make run?): use it, or unmount it first with: fusermount3 -u kv" >&2
		exit 1
	fi
	fusermount3 -u kv       # a mount whose daemon is gone
fi
cat <<MSG
kvfs: mounting ./kv.sqlite3 at ./kv (Ctrl-C to unmount). In another shell, try:
  mkdir -p kv/preferences && echo '{"theme":"dark"}' > kv/preferences/ada   # set ["preferences","ada"]
  ls kv/preferences; cat kv/preferences/ada      # list and read
  getfattr -n user.kv.versionstamp kv/preferences/ada
MSG
exec ./kvfs -f kv.sqlite3 kv
