#!/usr/bin/env bash
# Starts the demo of `make run`: a hub, an edge agent and simulated Modbus
# devices from examples/demo, with data in data/demo (git-ignored). Ctrl-C
# stops everything cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
DEMO=examples/demo
mkdir -p data/demo
pids=()
stopping=""
cleanup() {
  trap - INT TERM EXIT
  stopping=1
  echo
  echo "stopping..."
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "stopped. Data is kept in data/demo (make clean removes it)."
}
trap cleanup INT TERM EXIT

"$BIN/gridedge" sim --settings "$DEMO/settings.json" --listen tcp://127.0.0.1:5020 --log-level warn \
  2> >(sed -u 's/^/[sim]   /' >&2) &
pids+=($!)
"$BIN/gridedge-hub" --config "$DEMO/hub.yaml" 2> >(sed -u 's/^/[hub]   /' >&2) &
pids+=($!)
for _ in $(seq 1 50); do
  curl -fsS localhost:8080/api/v2/health >/dev/null 2>&1 && break
  sleep 0.2
done
"$BIN/gridedge-agent" --config "$DEMO/agent.yaml" 2> >(sed -u 's/^/[agent] /' >&2) &
pids+=($!)

cat <<MSG

GridEdge demo is running: hub, edge agent 'edge1' and simulated Modbus devices (tcp://127.0.0.1:5020).
Try, in another terminal:

  curl -s localhost:8080/api/v2/health
  curl -s localhost:8080/api/v2/demo/meters          # meter M1: counter, voltage, current, power, frequency
  curl -s localhost:8080/api/v2/demo/meters/M1       # one document; values change every second
  curl -s localhost:8080/api/v2/demo/hvac/SENSOR_ABC # the seed's PANASONIC example
  bin/gridedge modbus read --url tcp://127.0.0.1:5020 --slave 2 --table input --address 0 --datatype 32uint

NATS: clients on nats://127.0.0.1:4222 (hub), local substation bus on nats://127.0.0.1:4223 (edge).
Press Ctrl-C to stop.
MSG
wait -n "${pids[@]}" || true
if [ -z "$stopping" ]; then
  echo "a component exited unexpectedly; see its log above" >&2
  exit 1
fi
