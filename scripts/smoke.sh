#!/usr/bin/env bash
# Smoke run on the `node` first on PATH — what CI runs on the supported
# runtime that does not get the full suite (.ci/run). Needs an installed
# checkout (npm ci) whose better-sqlite3 is built for that node, curl and jq.
#
# 1. The service as the README starts it: `npm start` (build, then serve on
#    the embedded SQLite store) in a fresh data folder; it must print the
#    first tenant's API key, answer /healthz and /readyz, and stop cleanly
#    on SIGTERM.
# 2. The README's "First minutes" commands as written, and one end-to-end
#    suite per protocol, on SQLite: the existing suites, run as they are.
#
# Prints "smoke (node vX): N passed, N failed" last; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

SUITES=(
  # The README's first minutes: npm run roomgate, Connect JSON with curl, login and the REST page.
  test/e2e/readme-first-minutes.test.ts
  # Connect JSON and binary over HTTP/1.1 and HTTP/2, gRPC, gRPC-Web on the one port, and grpc-js with the .proto files.
  test/e2e/protocols.test.ts
  # Connect binary, gRPC-Web and gRPC with bodies that fail to parse.
  test/e2e/malformed-binary.test.ts
  # gRPC through @grpc/grpc-js: the health service.
  test/e2e/grpc-health.test.ts
)

runtime="node $(node --version)"
work=$(mktemp -d)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill -KILL -- "-$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "-- $runtime: npm start (embedded SQLite)"
# setsid: npm, its shell and the service in a group of their own, so that the
# cleanup above can end all of them however this script stops.
PORT=0 HOST=127.0.0.1 ROOMGATE_DATA_DIR="$work/data" LOG_LEVEL=info \
  setsid npm start >"$work/out" 2>"$work/err" </dev/null &
server_pid=$!
port=""
for _ in $(seq 1 600); do
  # One process logs "roomgate listening"; a cluster's primary "listening on … with N workers" once all listen.
  port=$(sed -nE 's/.*"port":([0-9]+).*"msg":"(roomgate listening|listening on [^"]* with [0-9]+ workers)".*/\1/p' "$work/out" | head -n 1)
  [ -n "$port" ] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$port" ]; then
  echo "smoke: npm start did not report listening within 60 s" >&2
  cat "$work/out" "$work/err" >&2
  exit 1
fi
grep -qE '^roomgate created tenant [0-9a-f-]{36} with this API key' "$work/out" || {
  echo "smoke: the first start printed no API key" >&2
  exit 1
}
curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null
curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null
echo "listening on $port, /healthz and /readyz answer 200"
# SIGTERM to the service (the process that logged "listening"): it drains and
# exits 0, and npm with it. (npm itself, when signalled, ends with 143 whatever the service does.)
service_pid=$(sed -nE 's/.*"pid":([0-9]+).*"msg":"(roomgate listening|listening on [^"]* with [0-9]+ workers)".*/\1/p' "$work/out" | head -n 1)
kill -TERM "$service_pid"
status=0
wait "$server_pid" || status=$?
server_pid=""
if [ "$status" -ne 0 ]; then
  echo "smoke: npm start exited $status after SIGTERM" >&2
  cat "$work/err" >&2
  exit 1
fi
echo "stopped cleanly on SIGTERM"

echo "-- $runtime: README first minutes and one suite per protocol (SQLite)"
report="$work/report.json"
status=0
npx vitest run --project sqlite --reporter=default --reporter=json --outputFile="$report" "${SUITES[@]}" || status=$?
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`smoke (${process.argv[2]}): ${r.numPassedTests} passed, ${r.numFailedTests} failed`);
  if (r.numTotalTests === 0 || r.numFailedTests > 0) process.exit(1);
' "$report" "$runtime" || status=1
exit "$status"
