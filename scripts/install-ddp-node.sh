#!/usr/bin/env bash
# Installs the npm DDP clients the hub's DDP interop test runs
# (hub/daemon TestDDPInteropNode, hub/ddp TestSockJSInteropNode): simpleddp
# with simpleddp-plugin-login, sockjs-client (xhr-streaming, xhr-polling),
# ws and ddp.js, at pinned versions, into .tools/ddp-node/ (git-ignored).
# Idempotent; needs node and npm. Called by scripts/install-test-deps.sh.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$root/.tools/ddp-node"
want="simpleddp@2.2.4 simpleddp-plugin-login@4.0.2 ws@8.23.1 ddp.js@2.2.1 sockjs-client@1.6.1"

if ! command -v npm >/dev/null; then
  echo "install-ddp-node: npm is missing; the DDP interop test will skip" >&2
  exit 0
fi
mkdir -p "$dir"
if [ -f "$dir/.installed" ] && [ "$(cat "$dir/.installed")" = "$want" ]; then
  exit 0
fi
cd "$dir"
[ -f package.json ] || echo '{"name":"gridedge-ddp-interop","private":true}' > package.json
# shellcheck disable=SC2086
npm install --no-audit --no-fund --save-exact $want >/dev/null
echo "$want" > .installed
