#!/bin/sh
# Makes a private CA and one certificate that the NATS nodes use to serve
# clients and, both ways, on their routes. Run it once in deploy/tls/:
#
#   ./gen.sh                       # compose: nats-1, nats-2, nats-3, localhost
#   ./gen.sh '*.nats-headless' nats nats.parley.svc   # add Kubernetes names
#
# It writes ca.pem, ca-key.pem, nats.pem and nats-key.pem. Keep ca-key.pem
# off the servers. The clients (ingest, projector) need ca.pem only.
set -eu
cd "$(dirname "$0")"
sans="DNS:nats-1,DNS:nats-2,DNS:nats-3,DNS:localhost,IP:127.0.0.1"
for name in "$@"; do sans="$sans,DNS:$name"; done
if [ ! -f ca.pem ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
    -subj "/CN=Parley NATS CA" -keyout ca-key.pem -out ca.pem
fi
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -subj "/CN=nats" -keyout nats-key.pem -out nats.csr
printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=digitalSignature\n' "$sans" > nats.ext
openssl x509 -req -in nats.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 825 \
  -extfile nats.ext -out nats.pem
rm -f nats.csr nats.ext ca.srl
# The servers read the key; the clients read the CA only.
chmod 644 ca.pem nats.pem
chmod 600 nats-key.pem ca-key.pem
echo "wrote $(pwd)/ca.pem nats.pem nats-key.pem for $sans"
