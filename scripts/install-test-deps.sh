#!/usr/bin/env bash
# Installs the third-party peers the test suite runs against (idempotent).
# Called by .ci/run; run it once on a development machine too:
#   sudo scripts/install-test-deps.sh
# Tests that need a missing peer skip with a message, and fail when
# GRIDEDGE_REQUIRE_INTEROP=1 (as CI sets it).
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ ! -f /tmp/.gridedge-apt-updated ]; then
    $SUDO apt-get -o DPkg::Lock::Timeout=600 update -q && touch /tmp/.gridedge-apt-updated
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}"
}

# qemu-user: the ARM agent binaries start under qemu-arm / qemu-aarch64 (scripts/test-arm.sh)
apt_install qemu-user
# systemd: systemd-analyze verify of the packaged units (scripts/test-packages.sh)
apt_install systemd

# mosquitto (and mosquitto_passwd): MQTT interop peer of edge/mqtt (TestMosquitto*)
apt_install mosquitto

# rabbitmq-server: AMQP peer of hub/bridge/amqp (TestAMQP*; each test starts its own node on free ports)
apt_install rabbitmq-server

# socat (pty pairs), mbpoll (libmodbus client) and pymodbus (Modbus server):
# interop peers of edge/modbus (TestPymodbusInterop, TestMbpollInterop)
apt_install socat mbpoll python3 python3-pip
if ! python3 -c 'import pymodbus, serial, sys; sys.exit(pymodbus.__version__ != "3.16.1")' >/dev/null 2>&1; then
  python3 -m pip install -q pymodbus==3.16.1 pyserial==3.5 \
    || python3 -m pip install -q --break-system-packages pymodbus==3.16.1 pyserial==3.5
fi

# asyncua (Python OPC-UA server): interop peer of edge/opcua, edge/agent and edge/cli
# (scripts/interop/asyncua_server.py; TestAsyncua*, BenchmarkSubscription)
if ! python3 -c 'import sys, importlib.metadata as m; sys.exit(m.version("asyncua") != "2.1.0")' >/dev/null 2>&1; then
  python3 -m pip install -q asyncua==2.1.0 \
    || python3 -m pip install -q --break-system-packages asyncua==2.1.0
fi

# victoria-metrics: remote history backend peer of hub/history (TestRemoteVictoriaMetrics:
# Prometheus remote-write and the Prometheus HTTP query API)
apt_install victoria-metrics

# mongo-java-server (Mongo wire-protocol server from Maven Central) for the
# mongo store backend's contract tests; needs Java 17+ and mvn (on the machine image)
if ! command -v java >/dev/null || ! command -v mvn >/dev/null; then
  apt_install default-jdk-headless maven
fi
"$(dirname "$0")/mongo-server.sh" fetch

# staticcheck for make lint (Go module proxy)
if ! command -v staticcheck >/dev/null && [ ! -x "$(go env GOPATH)/bin/staticcheck" ]; then
  go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
fi

# chromium: the browser the console's end-to-end test drives with playwright-core
# (hub/e2e TestConsoleInBrowser; scripts/install-ui-test.sh installs playwright-core)
apt_install chromium
"$(dirname "$0")/install-ui-test.sh"

# npm DDP clients (simpleddp, simpleddp-plugin-login, ws, ddp.js) for the hub DDP interop test
"$(dirname "$0")/install-ddp-node.sh"
