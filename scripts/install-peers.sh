#!/usr/bin/env bash
# Installs the third-party Wyoming peers the benchmarks in bench/ compare against, each in its own
# venv under .venv-peers/ (they pin different wyoming versions):
#   .venv-peers/satellite       wyoming-satellite 1.0.0 (scripts/install.sh installs it too)
#   .venv-peers/openwakeword    wyoming-openwakeword 1.8.2 + tflite-runtime 2.14.0 + numpy<2
#   .venv-peers/faster-whisper  wyoming-faster-whisper 3.8.1
#   .venv-peers/piper           wyoming-piper 2.5.2
#   .venv-peers/bench           wyoming-bench 2026.10.0
# Idempotent: a venv whose stamp file matches this script is left alone. Never touches .venv/.
# No model weights are downloaded: the benches point the servers at the files our model packages ship.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[install-peers]\033[0m %s\n' "$*"; }

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
stamp_id=$(sha256sum scripts/install-peers.sh | cut -c1-16)

# peer NAME CHECK-MODULE PIP-ARGS...: a venv .venv-peers/NAME holding PIP-ARGS, importing CHECK-MODULE.
peer() {
  local name=$1 module=$2
  shift 2
  local dir=.venv-peers/$name
  local stamp=$dir/.hearth-peer-$stamp_id
  if [ -f "$stamp" ] && "$dir/bin/python" -c "import $module" 2>/dev/null; then
    say "$name up to date"
    return
  fi
  say "$name: $*"
  [ -x "$dir/bin/python" ] || "$PYTHON" -m venv "$dir"
  "$dir/bin/python" -m pip install -q --disable-pip-version-check "$@"
  "$dir/bin/python" -c "import $module"
  rm -f "$dir"/.hearth-peer-*
  touch "$stamp"
}

peer satellite wyoming_satellite "wyoming-satellite==1.0.0"
peer faster-whisper wyoming_faster_whisper "wyoming-faster-whisper==3.8.1"
peer piper wyoming_piper "wyoming-piper==2.5.2"
peer bench wyoming_bench "wyoming-bench==2026.10.0"

# wyoming-openwakeword pins a nightly tflite build that PyPI no longer serves: its own dependencies
# are installed by hand (the released tflite-runtime 2.14.0 needs numpy<2), then the server with --no-deps.
ow=.venv-peers/openwakeword
if [ ! -f "$ow/.hearth-peer-$stamp_id" ] || ! "$ow/bin/python" -c "import wyoming_openwakeword, tflite_runtime.interpreter" 2>/dev/null; then
  peer openwakeword wyoming "wyoming==1.2.0" "numpy<2" "tflite-runtime==2.14.0"
  rm -f "$ow"/.hearth-peer-*
  "$ow/bin/python" -m pip install -q --disable-pip-version-check --no-deps "wyoming-openwakeword==1.8.2"
  "$ow/bin/python" -c "import wyoming_openwakeword, tflite_runtime.interpreter"
  touch "$ow/.hearth-peer-$stamp_id"
else
  say "openwakeword up to date"
fi
say "done"
