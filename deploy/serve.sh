#!/usr/bin/env bash
# Serve ferviz to a room: N Streamlit replicas of the app behind nginx, in shared mode (no server paths).
#
#   bash deploy/serve.sh                       # 2 replicas, http://127.0.0.1:8080
#   REPLICAS=4 PORT=80 HOST=0.0.0.0 bash deploy/serve.sh
#   bash deploy/serve.sh --upstream 10.0.0.2:8501 --upstream 10.0.0.3:8501   # replicas on other machines
#
# Needs nginx (apt-get install nginx). A replica (or nginx) that dies is restarted; one that crashes 5 times
# in 2 minutes is left down while the others serve. `kill -HUP <pid of ferviz serve>` restarts the replicas
# one at a time (to load a new default model). Status: http://HOST:PORT/ferviz-status (JSON).
# Ctrl-C (or SIGTERM) stops everything. See bench/README.md, "A classroom server survives faults".
set -euo pipefail
cd "$(dirname "$0")/.."
exec python -m ferviz serve --replicas "${REPLICAS:-2}" --port "${PORT:-8080}" --host "${HOST:-127.0.0.1}" "$@"
