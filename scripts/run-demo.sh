#!/usr/bin/env bash
# Starts the demo of `make run`: a hub, an edge agent and simulated Modbus
# devices from examples/demo, with data in data/demo (git-ignored). Ctrl-C
# stops everything cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
DEMO=examples/demo
mkdir -p data/demo
# The hub creates user admin with this password on its first start (later
# starts keep the password stored in data/demo; `make clean` resets it).
export GRIDEDGE_ADMIN_PASSWORD=${GRIDEDGE_ADMIN_PASSWORD:-gridedge-demo}
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

# Log in once so that the examples below can show a real token.
login=$(curl -sS -X POST localhost:8080/api/v2/login -H 'Content-Type: application/json' \
  -d "{\"user\":\"admin\",\"password\":\"$GRIDEDGE_ADMIN_PASSWORD\"}" 2>/dev/null || true)
TOKEN=$(sed -n 's/.*"authToken":"\([^"]*\)".*/\1/p' <<<"$login")
if [ -z "$TOKEN" ]; then
  TOKEN='<authToken from the login above>'
  echo "note: could not log in as admin with GRIDEDGE_ADMIN_PASSWORD (data/demo may hold an older password; make clean resets it): $login" >&2
fi
AUTH="-H 'X-User-ID: admin' -H 'X-Auth-Token: $TOKEN'"

cat <<MSG

GridEdge demo is running: hub, edge agent 'edge1' and simulated Modbus devices (tcp://127.0.0.1:5020).

Web console: http://localhost:8080/console/   (sign in as admin, password: $GRIDEDGE_ADMIN_PASSWORD)

The REST API needs credentials. Log in as admin (password: $GRIDEDGE_ADMIN_PASSWORD):

  curl -s -X POST localhost:8080/api/v2/login -H 'Content-Type: application/json' -d '{"user":"admin","password":"$GRIDEDGE_ADMIN_PASSWORD"}'

Then try, in another terminal, with the token it returns (this one is valid for 24h):

  curl -s localhost:8080/api/v2/health
  curl -s $AUTH localhost:8080/api/v2/demo/meters          # meter M1: counter, voltage, current, power, frequency
  curl -s $AUTH localhost:8080/api/v2/demo/meters/M1       # one document; values change every second
  curl -s $AUTH localhost:8080/api/v2/demo/hvac/SENSOR_ABC # the seed's PANASONIC example
  bin/gridedge user add --password $GRIDEDGE_ADMIN_PASSWORD --grant demo=read alice   # a read-only user
  bin/gridedge app add --password $GRIDEDGE_ADMIN_PASSWORD --grant demo=read grafana  # an appId/keyId pair
  bin/gridedge modbus read --url tcp://127.0.0.1:5020 --slave 2 --table input --address 0 --datatype 32uint

NATS: clients on nats://127.0.0.1:4222 (hub), local substation bus on nats://127.0.0.1:4223 (edge).
Press Ctrl-C to stop.
MSG
wait -n "${pids[@]}" || true
if [ -z "$stopping" ]; then
  echo "a component exited unexpectedly; see its log above" >&2
  exit 1
fi
