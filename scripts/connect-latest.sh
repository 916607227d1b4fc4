#!/usr/bin/env bash
# Runs the fast-path suites (test/e2e/fast-path-differential and
# fast-path-probe) against the newest @connectrpc/connect release, so that a
# connect release that changes what src/server/fast/connect-internals.ts
# copies or imports shows up before the pin in package.json moves (issue 18).
#
# Without a full `npm ci`: a temporary directory gets a copy of the checkout's
# files (a few MB) and a node_modules of symlinks to the checkout's packages,
# except @connectrpc/{connect,connect-node,connect-web}, which are unpacked
# there at the newest version (they have no dependencies besides each other and
# @bufbuild/protobuf). Node resolves a symlinked package from its real path, so
# every package that imports connect must be among the unpacked ones: a check
# below fails if one is not.
#
# The Node.js to run it on: $CONNECT_LATEST_NODE if set, else `node` on PATH
# (connect-node 2.3 asks for Node >= 22). better-sqlite3 (the test server's
# store) is a native module built for one Node ABI: when the checkout's build
# does not load on that Node, it is built once for it (node-gyp, headers from
# $npm_config_nodedir or next to the node binary, as the npm `node` package
# ships them) and kept in $CONNECT_LATEST_CACHE (default
# ~/.cache/roomgate/connect-latest), keyed by its version and the ABI.
#
# Usage: scripts/connect-latest.sh [vitest arguments…]
#   (default: the two fast-path suites; always vitest project "sqlite", e.g.
#   `--project fast-path-off test/e2e/bad-input.test.ts` adds that project)
#   CONNECT_LATEST_VERSION=2.3.0  a given release instead of npm's latest
#   CONNECT_LATEST_NODE=/tmp/node24/node_modules/node/bin/node  another Node than PATH's
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
node_bin=${CONNECT_LATEST_NODE:-$(command -v node)}
node_bin=$(cd "$(dirname "$node_bin")" && pwd)/$(basename "$node_bin")
version=${CONNECT_LATEST_VERSION:-$(npm view @connectrpc/connect version)}
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(test/e2e/fast-path-differential.test.ts test/e2e/fast-path-probe.test.ts)
cache=${CONNECT_LATEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/roomgate/connect-latest}
work=$(mktemp -d "${TMPDIR:-/tmp}/roomgate-connect-latest.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "connect-latest: @connectrpc/connect@$version on node $("$node_bin" --version)"

# The checkout without node_modules, .git and build output.
tar -C "$root" -c --exclude=./node_modules --exclude=./.git --exclude=./.test-build --exclude=./dist \
  --exclude='./.dist-*' --exclude=./data . | tar -C "$work" -x

# node_modules: symlinks to the checkout's packages (not its dot-directories:
# vite and vitest write caches there), @connectrpc unpacked at $version.
mkdir -p "$work/node_modules/@connectrpc"
ln -s "$root/node_modules/.bin" "$work/node_modules/.bin"
# A package that is itself a symlink (a workspace: ../../packages/client) is
# copied as the link, so it points into the copy.
link() { if [ -L "$1" ]; then cp -P "$1" "$2"; else ln -s "$1" "$2"; fi; }
for entry in "$root"/node_modules/*; do
  name=$(basename "$entry")
  case "$name" in
    @connectrpc | better-sqlite3) continue ;;
    @*)
      mkdir -p "$work/node_modules/$name"
      for pkg in "$entry"/*; do link "$pkg" "$work/node_modules/$name/$(basename "$pkg")"; done
      ;;
    *) link "$entry" "$work/node_modules/$name" ;;
  esac
done
(
  cd "$work/node_modules/@connectrpc"
  for pkg in connect connect-node connect-web; do
    tarball=$(npm pack --silent "@connectrpc/$pkg@$version")
    mkdir "$pkg"
    tar -xzf "$tarball" -C "$pkg" --strip-components=1
    rm "$tarball"
  done
)
# Every package outside the copy that depends on connect must be unpacked
# above, or it would load the pinned copy beside the new one.
(cd "$work" && "$node_bin" -e '
  const fs = require("node:fs"), path = require("node:path");
  const top = fs.realpathSync(process.cwd()), nm = path.join(top, "node_modules"), outside = [];
  const dirs = fs.readdirSync(nm).flatMap((n) => n.startsWith("@") ? fs.readdirSync(path.join(nm, n)).map((m) => n + "/" + m) : [n]);
  for (const d of dirs) {
    let real, pkg;
    try { real = fs.realpathSync(path.join(nm, d)); pkg = JSON.parse(fs.readFileSync(path.join(real, "package.json"), "utf8")); } catch { continue; }
    const deps = { ...pkg.dependencies, ...pkg.peerDependencies, ...pkg.optionalDependencies };
    if (!real.startsWith(top + path.sep) && "@connectrpc/connect" in deps) outside.push(d);
  }
  if (outside.length) { console.error("connect-latest: not overlaid, but depend on @connectrpc/connect: " + outside); process.exit(1); }
')

# better-sqlite3 for this Node's ABI. The built copy sits in a node_modules of
# its own beside `bindings` (which finds the .node file from its caller's real
# path), so the symlink to it loads that build and not the checkout's.
sqlite="$root/node_modules/better-sqlite3"
# The addon loads on the first Database, not on require.
opens() { "$node_bin" -e 'new (require(process.argv[1]))(":memory:").close()' "$1" 2>/dev/null; }
if ! opens "$sqlite"; then
  abi=$("$node_bin" -p process.versions.modules)
  sqlite_version=$("$node_bin" -p "require('$sqlite/package.json').version")
  built="$cache/better-sqlite3-$sqlite_version-abi$abi"
  if ! opens "$built/node_modules/better-sqlite3"; then
    echo "connect-latest: building better-sqlite3 $sqlite_version for ABI $abi (once, kept in $built)"
    rm -rf "$built" "$built.tmp"
    mkdir -p "$built.tmp/node_modules/better-sqlite3"
    tar -C "$sqlite" -c --exclude=./build . | tar -C "$built.tmp/node_modules/better-sqlite3" -x
    cp -r "$root/node_modules/bindings" "$root/node_modules/file-uri-to-path" "$built.tmp/node_modules/"
    node_dir=${npm_config_nodedir:-}
    if [ -z "$node_dir" ]; then
      for d in "$(dirname "$node_bin")/.." "$(dirname "$node_bin")"/../node_modules/node-*-*; do
        if [ -f "$d/include/node/node.h" ]; then node_dir=$(cd "$d" && pwd) && break; fi
      done
    fi
    gyp="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
    (
      cd "$built.tmp/node_modules/better-sqlite3"
      PATH="$(dirname "$node_bin"):$PATH" "$node_bin" "$gyp" rebuild --release -j 2 \
        ${node_dir:+--nodedir="$node_dir"} >"$built.tmp/build.log" 2>&1 ||
        { cat "$built.tmp/build.log" >&2; exit 1; }
    )
    mv "$built.tmp" "$built"
  fi
  sqlite="$built/node_modules/better-sqlite3"
fi
ln -s "$sqlite" "$work/node_modules/better-sqlite3"

cd "$work"
# The copy's own src/ must load the unpacked connect, not the pinned one.
for pkg in connect connect-node; do
  "$node_bin" --input-type=module -e '
    const url = import.meta.resolve(process.argv[1]);
    if (!url.startsWith("file://" + process.cwd() + "/node_modules/@connectrpc/")) throw new Error(url);' \
    "@connectrpc/$pkg"
done
# The private names the fence imports must still exist, with the same types.
"$node_bin" node_modules/typescript/bin/tsc --noEmit -p .
PATH="$(dirname "$node_bin"):$PATH" "$node_bin" node_modules/vitest/vitest.mjs run --project sqlite "${tests[@]}"
