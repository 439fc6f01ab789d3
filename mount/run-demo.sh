#!/bin/sh
# `make run`: mount ./kv.sqlite3 at ./kv in the foreground; Ctrl-C unmounts.
cd "$(dirname "$0")/.."
mkdir -p kv
if grep -q " $PWD/kv fuse" /proc/mounts; then fusermount3 -u kv; fi
cat <<MSG
kvfs: mounting ./kv.sqlite3 at ./kv (Ctrl-C to unmount). In another shell, try:
  mkdir -p kv/preferences && echo '{"theme":"dark"}' > kv/preferences/ada   # set ["preferences","ada"]
  ls kv/preferences; cat kv/preferences/ada      # list and read
  getfattr -n user.kv.versionstamp kv/preferences/ada
MSG
exec ./kvfs -f kv.sqlite3 kv
