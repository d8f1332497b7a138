#!/usr/bin/env bash
# Starts the three-node hub cluster of docs/scaling.md on this machine, so
# that a newcomer can watch a failover: three gridedge-hub processes whose
# embedded NATS servers form a cluster (JetStream R3), one MongoDB (the
# mongo-java-server of scripts/mongo-server.sh, in memory, or the one named by
# GRIDEDGE_MONGODB_URI), one VictoriaMetrics (Debian's victoria-metrics), a
# simulated meter and two edge agents that know every hub node. Data and
# generated configs live in data/cluster (git-ignored; make clean removes it).
# Ctrl-C stops everything.
#
# Needs: bin/ (make build), java 17 (or GRIDEDGE_MONGODB_URI), victoria-metrics, curl.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
DIR=data/cluster
export GRIDEDGE_ADMIN_PASSWORD=${GRIDEDGE_ADMIN_PASSWORD:-gridedge-demo}
VM=${VICTORIA_METRICS:-$(command -v victoria-metrics || echo /usr/bin/victoria-metrics)}
[[ -x $VM ]] || { echo "run-cluster: victoria-metrics is not installed (apt-get install victoria-metrics)" >&2; exit 1; }
rm -rf "$DIR"
mkdir -p "$DIR"

pids=()
stopping=""
started_mongo=""
cleanup() {
  trap - INT TERM EXIT
  stopping=1
  echo
  echo "stopping..."
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [[ -n $started_mongo ]] && scripts/mongo-server.sh stop
  echo "stopped."
}
trap cleanup INT TERM EXIT

if [[ -n ${GRIDEDGE_MONGODB_URI:-} ]]; then
  MONGO=$GRIDEDGE_MONGODB_URI
else
  MONGO=$(scripts/mongo-server.sh start)
  started_mongo=1
fi

"$VM" -httpListenAddr=127.0.0.1:8428 -storageDataPath="$DIR/victoria-metrics" -retentionPeriod=100y -loggerLevel=ERROR \
  2> >(sed -u 's/^/[vm]    /' >&2) &
pids+=($!)

routes="nats://127.0.0.1:6222, nats://127.0.0.1:6223, nats://127.0.0.1:6224"
for i in 1 2 3; do
  cat >"$DIR/hub$i.yaml" <<YAML
# hub node $i of the local cluster (scripts/run-cluster.sh); fields in docs/configuration.md
domain: cluster
dataDir: $DIR/hub$i
http: {listen: "127.0.0.1:808$i"}
nats:
  listen: "127.0.0.1:422$i"
  leafListen: "127.0.0.1:742$i"
  serverName: hub$i
  cluster: {name: gridedge-local, listen: "127.0.0.1:$((6221 + i))", routes: [$routes]}
store: {backend: mongo, mongoURI: "$MONGO", database: gridedge_cluster}
history: {backend: remote, remote: {writeURL: "http://127.0.0.1:8428/api/v1/write", readURL: "http://127.0.0.1:8428"}}
ingest: {replicas: 3, createMissing: true}
edges: [{id: edge1, password: cluster-edge1-secret}, {id: edge2, password: cluster-edge2-secret}]
layers:
  - _id: cluster
    collections: [{name: meters}]
YAML
done
for e in 1 2; do
  cat >"$DIR/settings$e.json" <<JSON
{"modbusMaps": {"METER": [
   {"name": "counter", "type": "input", "address": 0, "datatype": "32uint"},
   {"name": "voltage", "type": "input", "address": 2, "datatype": "32float"},
   {"name": "pollCount", "type": "input", "address": 10, "datatype": "32uint"}]},
 "modbusSlaves": [{"ip": "127.0.0.1", "port": 5021, "slaveId": 2, "map": "METER", "document": {"layer": "cluster", "collection": "meters", "id": "M$e"}}],
 "period": 0.1, "logLevel": "Info"}
JSON
  cat >"$DIR/edge$e.yaml" <<YAML
# edge agent $e: starts on hub node $e and knows the others (hub.urls)
edge: {id: edge$e}
domain: cluster
hub:
  url: nats-leaf://127.0.0.1:742$e
  urls: [nats-leaf://127.0.0.1:7421, nats-leaf://127.0.0.1:7422, nats-leaf://127.0.0.1:7423]
  password: cluster-edge$e-secret
dataDir: $DIR/edge$e
nats: {listen: "off"}
settingsFile: settings$e.json
heartbeat: {interval: 1s}
logLevel: info
YAML
done

"$BIN/gridedge" sim --settings "$DIR/settings1.json" --listen tcp://127.0.0.1:5021 --log-level warn \
  2> >(sed -u 's/^/[sim]   /' >&2) &
pids+=($!)
for i in 1 2 3; do
  "$BIN/gridedge-hub" --config "$DIR/hub$i.yaml" 2> >(sed -u "s/^/[hub$i]  /" >&2) &
  pids+=($!)
  echo $! >"$DIR/hub$i.pid"
done
for i in 1 2 3; do
  for _ in $(seq 1 600); do
    curl -fsS "127.0.0.1:808$i/api/v2/health" >/dev/null 2>&1 && break
    sleep 0.2
  done
done
for e in 1 2; do
  "$BIN/gridedge-agent" --config "$DIR/edge$e.yaml" 2> >(sed -u "s/^/[edge$e] /" >&2) &
  pids+=($!)
done

login=$(curl -sS -X POST 127.0.0.1:8081/api/v2/login -H 'Content-Type: application/json' \
  -d "{\"user\":\"admin\",\"password\":\"$GRIDEDGE_ADMIN_PASSWORD\"}" 2>/dev/null || true)
TOKEN=$(sed -n 's/.*"authToken":"\([^"]*\)".*/\1/p' <<<"$login")
AUTH="-H 'X-User-ID: admin' -H 'X-Auth-Token: ${TOKEN:-<authToken>}'"

cat <<MSG

GridEdge hub cluster is running: hub1, hub2, hub3 (REST on 127.0.0.1:8081, 8082, 8083; NATS cluster
routes 6222-6224; leaf nodes 7421-7423), MongoDB $MONGO, VictoriaMetrics 127.0.0.1:8428,
edge1 (attached to hub1) and edge2 (attached to hub2) reading a simulated meter 10 times a second.

A token from hub1 works on every node:

  curl -s $AUTH 127.0.0.1:8082/api/v2/cluster/meters/M1

Watch a failover in another terminal:

  watch -n 0.5 "curl -s $AUTH 127.0.0.1:8083/api/v2/cluster/meters/M1 | head -c 400"
  kill -9 \$(cat $DIR/hub1.pid)     # edge1's node: its leaf link moves to hub2 or hub3,
                                   # readings resume within seconds, none lost or doubled
  curl -s $AUTH "127.0.0.1:8082/api/v2/history/cluster/meters/M1?fields=measurements.pollCount"

Press Ctrl-C to stop (MongoDB's data is in memory and goes with it).
MSG
wait -n "${pids[@]}" || true
if [ -z "$stopping" ]; then
  echo "a component exited; see its log above (a killed hub node is expected: the others keep serving)" >&2
  wait
fi
