#!/usr/bin/env bash
# Prints the path of a headless-capable Chromium for the report's browser test, installing
# Debian's `chromium` package when none is present (the test machine has only package
# registries, so playwright's own browser download cannot work).
set -euo pipefail

find_chromium() {
  local candidate
  for candidate in "${DEDUP_LAB_CHROMIUM:-}" chromium chromium-browser; do
    [[ -n $candidate ]] || continue
    if command -v "$candidate" >/dev/null 2>&1; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

if path=$(find_chromium); then
  echo "$path"
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "chromium is not installed and this user cannot install it: run 'apt-get install -y chromium' as root" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Wait for dpkg's lock rather than fail when services.sh or another installer is running.
APT=(apt-get -y -o DPkg::Lock::Timeout=600)
# The package lists may be missing or stale on a fresh machine; one update is enough.
if ! "${APT[@]}" install --no-install-recommends chromium fonts-dejavu-core >&2; then
  "${APT[@]}" update >&2
  "${APT[@]}" install --no-install-recommends chromium fonts-dejavu-core >&2
fi
find_chromium
