#!/usr/bin/env bash
# Starts the cross-compiled agent binaries (make build-arm) under qemu-user
# and checks that they print their version. Usage: scripts/test-arm.sh [BIN_DIR]
set -euo pipefail
BIN=${1:-bin}
status=0
for pair in "armv7:qemu-arm" "arm64:qemu-aarch64"; do
  arch=${pair%%:*}
  emu=${pair##*:}
  bin="$BIN/gridedge-agent-linux-$arch"
  if [ ! -x "$bin" ]; then
    echo "FAIL: $bin is missing (run make build-arm)"
    status=1
    continue
  fi
  if ! command -v "$emu" >/dev/null; then
    if [ "${GRIDEDGE_REQUIRE_INTEROP:-0}" = 1 ]; then
      echo "FAIL: $emu not installed (apt-get install qemu-user)"
      status=1
    else
      echo "SKIP: $emu not installed (apt-get install qemu-user); $bin built but not started"
    fi
    continue
  fi
  file_info=$(file -b "$bin" 2>/dev/null || true)
  if out=$("$emu" "$bin" --version 2>&1) && [[ "$out" == gridedge-agent* ]]; then
    echo "ok: $emu $bin --version: $out ${file_info:+($file_info)}"
  else
    echo "FAIL: $emu $bin --version printed: $out"
    status=1
  fi
  # a bad flag must fail with a message, under emulation too
  if "$emu" "$bin" --no-such-flag >/dev/null 2>&1; then
    echo "FAIL: $bin accepted an unknown flag"
    status=1
  fi
done
exit $status
