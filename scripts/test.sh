#!/usr/bin/env bash
# The one test command (README, .ci/run): brings the real services up, then runs every test.
#   bash scripts/test.sh                 everything (services + typecheck + lint + all tests)
#   bash scripts/test.sh test/dataset    only the test files under the given paths (services still up)
set -euo pipefail
cd "$(dirname "$0")/.."

# Node.js 20 is past its end of life and better-sqlite3 13 loads on 22+ only: when the node on PATH
# is older, run on the CI line (24) from the npm registry's `node` package (scripts/node-line.sh).
if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 22 ]; then
  exec bash scripts/node-line.sh 24 bash "$0" "$@"
fi

[ -d node_modules ] || npm ci
# chdb (ClickHouse 26.x embedded) is optional (≈ 540 MB, see README): npm ci leaves it out, the
# tests need it. Installed once, pinned, from npm's cache after the first download (≈ 45 s).
bash scripts/install-chdb.sh
# The tests spawn bin/dedup-lab.js: rebuild dist/ so they run what `npm pack` ships (about a second).
node scripts/build.js

bash scripts/services.sh up
eval "$(bash scripts/services.sh env)"

if [ $# -eq 0 ]; then
  npx tsc -p .
  npx eslint .
  set -- test
fi

mapfile -t files < <(find "$@" -name '*.test.ts' | sort)
if [ ${#files[@]} -eq 0 ]; then
  echo "no test files under: $*" >&2
  exit 1
fi
# Every temporary folder of this run lives under one folder, removed when the run ends: the tests
# write data sets of up to 1 GiB, and leftovers of earlier runs once filled the disk until
# SeaweedFS refused new collections. --one-file-system: never descend into a mount a test left.
run_tmp=$(mktemp -d "${TMPDIR:-/tmp}/dedup-lab-tests-XXXXXX")
trap 'rm -rf --one-file-system "$run_tmp"' EXIT
# One file at a time: the server tests share real services and measure physical sizes, which
# concurrent files would disturb.
TMPDIR=$run_tmp node --import tsx --test --test-concurrency=1 --test-timeout=600000 "${files[@]}"
