#!/usr/bin/env bash
# Serve ferviz to a room: N Streamlit replicas of the app behind nginx, in shared mode (no server paths).
#
#   bash deploy/serve.sh                       # 2 replicas, http://127.0.0.1:8080
#   REPLICAS=4 PORT=80 HOST=0.0.0.0 bash deploy/serve.sh
#   bash deploy/serve.sh --upstream 10.0.0.2:8501 --upstream 10.0.0.3:8501   # replicas on other machines
#
# Needs nginx (apt-get install nginx). Ctrl-C stops everything. See README, "Serving a classroom".
set -euo pipefail
cd "$(dirname "$0")/.."
exec python -m ferviz serve --replicas "${REPLICAS:-2}" --port "${PORT:-8080}" --host "${HOST:-127.0.0.1}" "$@"
