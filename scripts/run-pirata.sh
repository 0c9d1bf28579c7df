#!/usr/bin/env bash
# Runs the seed's scenario on this machine: the five sample apps on loopback and halyard-proxy as
# the ingress gateway, serving samples/pirata (the seed's two Istio files, unchanged, plus the
# services' endpoints) with Gateway port 80 on localhost:8080. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

CONFIG=${CONFIG:-samples/pirata}
PORT=${PORT:-8080}
ADMIN=${ADMIN:-127.0.0.1:15000}
LOGDIR=${LOGDIR:-$(mktemp -d /tmp/halyard-pirata.XXXXXX)}

pids=()
cleanup() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

start_app() {  # name port
  /usr/bin/python3 samples/apps/echo_app.py --name "$1" --port "$2" >"$LOGDIR/$1.log" 2>&1 &
  pids+=($!)
}
start_app items-api 9081
start_app uploader-api 9082
start_app ai-api 9083
start_app front 9084
start_app front-v2 9085

build/bin/halyard-proxy --config "$CONFIG" --port-map "80=$PORT" --admin "$ADMIN" \
  >"$LOGDIR/gateway.log" 2>&1 &
proxy=$!
pids+=($proxy)

for _ in $(seq 1 100); do
  if curl -fsS "http://$ADMIN/ready" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$proxy" 2>/dev/null; then
    echo "halyard-proxy exited; its log ($LOGDIR/gateway.log):" >&2
    cat "$LOGDIR/gateway.log" >&2
    exit 1
  fi
  sleep 0.1
done

cat <<MSG
The seed's mesh is running (logs in $LOGDIR). Try:

  curl -H 'Host: pirata.20.88.189.150.nip.io' localhost:$PORT/api/items      # items-api
  curl -H 'Host: pirata.20.88.189.150.nip.io' localhost:$PORT/upload         # uploader-api
  curl -H 'Host: pirata.20.88.189.150.nip.io' localhost:$PORT/predict        # ai-api
  curl -H 'Host: piratafront.20.88.189.150.nip.io' localhost:$PORT/          # front (100/0 canary)
  curl -i -H 'Host: pirata.20.88.189.150.nip.io' localhost:$PORT/nothing     # 404 NR, with a reason
  curl http://$ADMIN/stats/prometheus | grep istio_requests_total
  curl http://$ADMIN/config_dump

Edit $CONFIG/deploy-front-gateway.yaml (weights 100/0 -> 50/50) and the gateway applies it within
a second. Ctrl-C stops everything.
MSG
wait "$proxy"
