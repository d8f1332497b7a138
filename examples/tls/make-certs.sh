#!/bin/sh
# Makes a throw-away CA and the certificates examples/tls/hub.yaml and
# agent.yaml name, in ./certs: hub (REST and both NATS ports), bus (the
# agent's local bus), and the client certificates edge1 (the leaf link) and
# scada (a local app). For a trial only: in production use your own PKI.
# Usage: ./make-certs.sh [hub host name ...]   (default: localhost)
set -eu
cd "$(dirname "$0")"
mkdir -p certs
cd certs
hosts="${*:-localhost}"
san="IP:127.0.0.1,IP:::1"
for h in $hosts; do san="$san,DNS:$h"; done

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
  -subj "/CN=GridEdge example CA" -keyout ca.key -out ca.pem 2>/dev/null

issue() { # name usage san
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj "/CN=$1" -keyout "$1.key" -out "$1.csr" 2>/dev/null
  printf 'extendedKeyUsage=%s\nsubjectAltName=%s\n' "$2" "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial \
    -days 365 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
  chmod 600 "$1.key"
}
issue hub serverAuth "$san"
issue bus serverAuth "IP:127.0.0.1,DNS:localhost"
issue edge1 clientAuth "DNS:edge1"
issue scada clientAuth "DNS:scada"
chmod 600 ca.key
echo "certificates in $(pwd): ca.pem, hub, bus, edge1, scada (.pem and .key)"
