#!/usr/bin/env bash
# Screenshot of the MLflow UI showing an exported experiment: starts `mlflow ui` on a loopback port, waits for it,
# takes a headless-Chromium screenshot of the experiment's runs, and stops the server (also on failure).
#
# Usage: scripts/mlflow_ui_screenshot.sh BACKEND_URI OUT.png [EXPERIMENT] [PORT]
#   BACKEND_URI  e.g. sqlite:///$PWD/scrutiny-runs/mlflow.db (what `scrutiny export mlflow` printed)
#   EXPERIMENT   experiment name (default: scrutiny)
#   PORT         loopback port (default: a free one)
# Environment: MLFLOW (the mlflow command; default: .venv/bin/mlflow, else mlflow on PATH), CHROMIUM (the
# browser; default: chromium, chromium-browser or google-chrome on PATH; `apt-get install chromium` on Debian),
# WINDOW (default 1600,1000), WAIT_S (seconds to wait for the server; default 120).
set -euo pipefail

if [[ $# -lt 2 ]]; then
  sed -n '5,9p' "$0" >&2
  exit 2
fi
uri=$1
out=$2
experiment=${3:-scrutiny}
port=${4:-}
here=$(cd "$(dirname "$0")/.." && pwd)
mlflow=${MLFLOW:-$([[ -x $here/.venv/bin/mlflow ]] && echo "$here/.venv/bin/mlflow" || command -v mlflow || true)}
chromium=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)}
python=${PYTHON:-$([[ -x $here/.venv/bin/python ]] && echo "$here/.venv/bin/python" || command -v python3)}
[[ -n $mlflow ]] || { echo "mlflow_ui_screenshot: mlflow not found (pip install 'scrutiny[mlflow]')" >&2; exit 2; }
[[ -n $chromium ]] || { echo "mlflow_ui_screenshot: chromium not found (apt-get install chromium)" >&2; exit 2; }
if [[ -z $port ]]; then
  port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
fi
base="http://127.0.0.1:$port"
log=$(mktemp -t mlflow-ui.XXXXXX.log)
profile=$(mktemp -d -t mlflow-ui-chromium.XXXXXX)

# setsid: the server and its workers form one process group, stopped together by the group id we started
setsid "$mlflow" ui --backend-store-uri "$uri" --host 127.0.0.1 --port "$port" --workers 1 >"$log" 2>&1 &
server=$!
stop() {
  kill -TERM -- "-$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -rf "$profile"
}
trap stop EXIT

for ((i = 0; i < ${WAIT_S:-120}; i++)); do
  if curl -fsS "$base/health" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$server" 2>/dev/null; then
    echo "mlflow_ui_screenshot: mlflow ui exited; its log:" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 1
done
curl -fsS "$base/health" >/dev/null || { echo "mlflow_ui_screenshot: no answer from $base" >&2; exit 1; }

id=$(curl -fsS -G "$base/api/2.0/mlflow/experiments/get-by-name" --data-urlencode "experiment_name=$experiment" |
  "$python" -c 'import json, sys; print(json.load(sys.stdin)["experiment"]["experiment_id"])')
runs=$(curl -fsS -X POST -H 'Content-Type: application/json' "$base/api/2.0/mlflow/runs/search" \
  -d "{\"experiment_ids\": [\"$id\"], \"max_results\": 1000}" |
  "$python" -c 'import json, sys; print(len(json.load(sys.stdin).get("runs", [])))')
echo "mlflow_ui_screenshot: experiment '$experiment' (id $id) serves $runs run(s) at $base"

"$chromium" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --hide-scrollbars \
  --user-data-dir="$profile" --window-size="${WINDOW:-1600,1000}" --virtual-time-budget=20000 \
  --screenshot="$out" "$base/#/experiments/$id/runs" >/dev/null 2>&1
[[ -s $out ]] || { echo "mlflow_ui_screenshot: chromium wrote no screenshot" >&2; exit 1; }
echo "mlflow_ui_screenshot: wrote $out"
