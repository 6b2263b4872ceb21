#!/usr/bin/env bash
# The test command: installs what is needed, then lint, types, the test suite against a real
# Mosquitto and real models, and the deployment checks. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash scripts/install.sh

echo "[test] ruff"
.venv/bin/ruff check protocol common hub satellite testbed tests bench scripts
echo "[test] mypy"
.venv/bin/mypy protocol common hub satellite testbed bench

echo "[test] pytest"
.venv/bin/python -m pytest -p no:cacheprovider "$@"

if [ -f scripts/check-deploy.sh ] && [ "$#" -eq 0 ]; then
  echo "[test] deployment checks"
  bash scripts/check-deploy.sh
fi
echo "[test] all passed in $(( $(date +%s) - start )) s"
