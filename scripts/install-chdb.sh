#!/usr/bin/env bash
# Add the optional chdb package (ClickHouse 26.x embedded, ≈ 540 MB) without touching
# package.json or the lock file: `npm ci` stays as fast for everyone who never uses chdb.
# Idempotent: does nothing when the pinned version is already installed.
set -euo pipefail
cd "$(dirname "$0")/.."
# The pinned version lives in one place: CHDB_PACKAGE in src/systems/chdb.ts.
version=$(sed -n "s/^export const CHDB_PACKAGE = '\\(.*\\)';$/\\1/p" src/systems/chdb.ts)
[ -n "$version" ] || { echo "install-chdb: CHDB_PACKAGE not found in src/systems/chdb.ts" >&2; exit 1; }
installed=$(node -p "try { require('chdb/package.json').version } catch { '' }")
if [ "chdb@${installed}" = "$version" ]; then
  exit 0
fi
# chdb's only install script is a no-op (`node -e ""`); its binary comes prebuilt in
# @chdb/lib-<platform>, so npm 11 not running it (allowScripts) changes nothing.
npm install --no-save --no-audit --no-fund "$version"
