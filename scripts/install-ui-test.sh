#!/usr/bin/env bash
# Installs playwright-core (no browser download: the console's browser test,
# hub/e2e TestConsoleInBrowser, drives Debian's Chromium at /usr/bin/chromium,
# which scripts/install-test-deps.sh installs with apt) at a pinned version
# into .tools/ui-test/ (git-ignored). Idempotent; needs node and npm. Called
# by scripts/install-test-deps.sh.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$root/.tools/ui-test"
want="playwright-core@1.65.1"

if ! command -v npm >/dev/null; then
  echo "install-ui-test: npm is missing; the console's browser test will skip" >&2
  exit 0
fi
mkdir -p "$dir"
if [ -f "$dir/.installed" ] && [ "$(cat "$dir/.installed")" = "$want" ]; then
  exit 0
fi
cd "$dir"
[ -f package.json ] || echo '{"name":"gridedge-console-ui-test","private":true}' > package.json
# shellcheck disable=SC2086
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund --save-exact $want >/dev/null
echo "$want" > .installed
