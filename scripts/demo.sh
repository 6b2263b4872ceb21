#!/usr/bin/env bash
# The main job: install, then an end-to-end demo on the embedded defaults (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/python -m scripts.demo "$@"
