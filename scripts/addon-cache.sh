#!/usr/bin/env bash
# CI's cache of compiled better-sqlite3 addons, kept in npm's cache folder
# (the one thing CI keeps between runs): compiling SQLite takes about 90 s
# on the 2-core machine, twice a run (for Node 24, then for the machine's
# Node in the background, where it slows the suite). The addon depends only
# on better-sqlite3's version, the Node ABI, the headers it is built against
# and the compiler, so one compiled for the same of all four is the same
# file.
#
#   scripts/addon-cache.sh dir HEADERS_ID
#       prints the cache folder for addons built against HEADERS_ID (a Node
#       version) with this machine's compiler. Given to npm as
#       npm_config_better_sqlite3_local_prebuilds, better-sqlite3's own
#       install (prebuild-install) unpacks a tarball found there instead of
#       compiling; without one it compiles as usual.
#   scripts/addon-cache.sh save DIR PACKAGE_DIR ABI
#       stores PACKAGE_DIR's compiled addon into DIR under the name
#       prebuild-install looks for (better-sqlite3-v<version>-node-v<ABI>-
#       <platform>-<arch>.tar.gz), unless it is there already.
#
# A cached addon that does not load is caught where every addon is (CI
# opens a database with it right after the install) and the run fails
# naming the file to delete; the key never has to be guessed.
set -euo pipefail

case "${1:-}" in
  dir)
    headers_id="$2"
    compiler=$( (c++ --version 2>/dev/null || echo none) | head -n 1)
    key=$(printf '%s\n%s\n%s\n' "$headers_id" "$compiler" "$(uname -m)" | sha256sum | cut -c1-16)
    printf '%s/_roomgate-addons/%s\n' "$(npm config get cache)" "$key"
    ;;
  save)
    dir="$2"
    pkg="$3"
    abi="$4"
    version=$(node -p 'require(require("node:path").resolve(process.argv[1], "package.json")).version' "$pkg")
    name="better-sqlite3-v$version-node-v$abi-$(node -p 'process.platform + "-" + process.arch').tar.gz"
    [ -f "$dir/$name" ] && exit 0
    mkdir -p "$dir"
    tmp=$(mktemp "$dir/.$name.XXXXXX")
    tar -czf "$tmp" -C "$pkg" build/Release/better_sqlite3.node
    mv "$tmp" "$dir/$name"
    echo "cached $name in $dir"
    ;;
  *)
    echo "usage: $0 dir HEADERS_ID | save DIR PACKAGE_DIR ABI" >&2
    exit 2
    ;;
esac
