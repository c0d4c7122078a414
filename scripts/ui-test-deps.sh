#!/usr/bin/env bash
# Browser-test dependencies (crates/kairos/tests/ui.rs): Debian's Chromium at /usr/bin/chromium, Node.js >= 20,
# and playwright-core (pinned in ui-tests/package.json and package-lock.json) in ui-tests/node_modules.
# Idempotent and quick when already installed; safe to run from several test processes at once.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ui="$root/ui-tests"
chromium=/usr/bin/chromium

pinned() { node -p "require('$ui/package.json').dependencies['playwright-core']" 2>/dev/null; }
installed() { node -p "require('$ui/node_modules/playwright-core/package.json').version" 2>/dev/null; }
node_ok() { command -v node >/dev/null 2>&1 && [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ]; }
ready() { [ -x "$chromium" ] && node_ok && [ -n "$(installed)" ] && [ "$(installed)" = "$(pinned)" ]; }

if ready; then
  echo "ui-test-deps: ready (chromium, node $(node --version), playwright-core $(installed))"
  exit 0
fi

# Serialise concurrent installers; re-check once we hold the lock.
if command -v flock >/dev/null 2>&1; then
  exec 9>"${TMPDIR:-/tmp}/kairos-ui-test-deps.lock"
  flock 9
  if ready; then
    echo "ui-test-deps: ready (installed by a concurrent run)"
    exit 0
  fi
fi

sudo=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then sudo="sudo"; fi
apt_install() {
  echo "ui-test-deps: apt-get install -y $*"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "$@" >/dev/null ||
    { $sudo apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "$@" >/dev/null; }
}

[ -x "$chromium" ] || apt_install chromium
if ! node_ok; then
  apt_install nodejs npm
  node_ok || { echo "ui-test-deps: Node.js >= 20 is needed (found $(node --version 2>/dev/null || echo none))" >&2; exit 1; }
fi
if [ "$(installed)" != "$(pinned)" ]; then
  echo "ui-test-deps: npm install in ui-tests/"
  (cd "$ui" && npm install --no-audit --no-fund --loglevel=error)
fi

if ! ready; then
  echo "ui-test-deps: still missing something (chromium at $chromium, node >= 20, playwright-core $(pinned))" >&2
  exit 1
fi
echo "ui-test-deps: ready (chromium, node $(node --version), playwright-core $(installed))"
