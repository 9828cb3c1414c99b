# Sourced by scripts/test.sh: the real MLflow and TensorBoard the tracker tests read back through. A virtualenv
# outside the repo (kept between runs) gets `mlflow` and `tensorboard` from PyPI, and an MLflow server on a free
# loopback port serves a SQLite database in a temporary folder. The tests find them through
# ABLATE_TEST_MLFLOW_URI and ABLATE_TEST_PYTHON; when either cannot be had, ABLATE_TEST_TRACKERS_SKIP says why
# and those tests skip with that reason. `stop_tracker_services` (from the caller's EXIT trap) stops the server.

tracker_venv="${ABLATE_TRACKERS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/ablate/trackers-venv}"
tracker_tmp=""
tracker_server_pid=""

start_tracker_services() {
  local python="$tracker_venv/bin/python"
  if ! "$python" -c "import mlflow, tensorboard" 2>/dev/null; then
    echo "== tracker tests: installing mlflow and tensorboard into $tracker_venv =="
    if ! { python3 -m venv "$tracker_venv" && "$python" -m pip install -q --upgrade pip \
           && "$python" -m pip install -q mlflow tensorboard; }; then
      export ABLATE_TEST_TRACKERS_SKIP="pip install mlflow tensorboard into $tracker_venv failed"
      echo "tracker tests will skip: $ABLATE_TEST_TRACKERS_SKIP"
      return 0
    fi
  fi
  export ABLATE_TEST_PYTHON="$python"
  tracker_tmp=$(mktemp -d)
  local port
  port=$("$python" -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
  # setsid: the server and its worker processes form one process group, stopped together on exit.
  (cd "$tracker_tmp" && exec setsid "$tracker_venv/bin/mlflow" server \
      --backend-store-uri "sqlite:///$tracker_tmp/mlflow.db" --artifacts-destination "$tracker_tmp/artifacts" \
      --host 127.0.0.1 --port "$port" >"$tracker_tmp/server.log" 2>&1) &
  tracker_server_pid=$!
  local uri="http://127.0.0.1:$port"
  for _ in $(seq 1 240); do
    if "$python" -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1] + '/health', timeout=2)" "$uri" 2>/dev/null; then
      export ABLATE_TEST_MLFLOW_URI="$uri"
      echo "== tracker tests: MLflow server at $uri (log: $tracker_tmp/server.log) =="
      return 0
    fi
    kill -0 "$tracker_server_pid" 2>/dev/null || break
    sleep 0.5
  done
  tail -20 "$tracker_tmp/server.log" || true
  export ABLATE_TEST_TRACKERS_SKIP="mlflow server did not answer on $uri (its log is above)"
  echo "MLflow tests will skip: $ABLATE_TEST_TRACKERS_SKIP"
}

stop_tracker_services() {
  if [ -n "$tracker_server_pid" ]; then
    kill -TERM -- "-$tracker_server_pid" 2>/dev/null || true
    sleep 1
    kill -KILL -- "-$tracker_server_pid" 2>/dev/null || true
  fi
  [ -z "$tracker_tmp" ] || rm -rf "$tracker_tmp"
}
