#!/usr/bin/env bash
# `npm test`: the whole suite on a fresh machine.
#   1. lint and type-check (eslint, tsc --noEmit), so style and types gate like tests;
#   2. build dist/, which the integration and e2e tests run as separate processes;
#   3. bring up the real services (Kafka, ClickHouse, MariaDB, Redis) unless the
#      environment already names them, then run unit, integration and e2e tests.
# Extra arguments go to vitest, e.g. `npm test -- --project unit`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

npm run --silent lint
npm run --silent build

if [[ -z "${KAFKA_BROKERS:-}" || -z "${CLICKHOUSE_URL:-}" || -z "${MYSQL_URL:-}" || -z "${REDIS_URL:-}" ]]; then
  eval "$(scripts/stack.sh up)"
fi
export KAFKA_BROKERS CLICKHOUSE_URL MYSQL_URL REDIS_URL

report=$(mktemp -t rollgate-vitest.XXXXXX.json)
trap 'rm -f "$report"' EXIT
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@" || status=$?

# One plain closing line, whatever the reporter printed above it.
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
' "$report" || true
exit "$status"
