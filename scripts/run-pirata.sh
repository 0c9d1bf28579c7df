#!/usr/bin/env bash
# Runs the seed's scenario on this machine: `halyard up samples/pirata` starts the control plane,
# the ingress gateway (Gateway port 80 on localhost:8080) and the five sample apps, each behind
# its sidecar, and prints what runs where and the curl lines to try. Ctrl-C stops everything.
# Extra arguments go to halyard up (see docs/halyard-up.md), e.g. --base-port 25000.
set -euo pipefail
cd "$(dirname "$0")/.."

CONFIG=${CONFIG:-samples/pirata}
PORT=${PORT:-8080}

exec build/bin/halyard up "$CONFIG" --port-map "80=$PORT" "$@"
