#!/usr/bin/env bash
# Installs the third-party Wyoming peers the benchmarks in bench/ compare against, each in its own
# venv under .venv-peers/ (they pin different wyoming versions):
#   .venv-peers/satellite       wyoming-satellite 1.0.0 (scripts/install.sh installs it too)
#   .venv-peers/openwakeword    wyoming-openwakeword 1.8.2 + tflite-runtime 2.14.0 + numpy<2
#   .venv-peers/faster-whisper  wyoming-faster-whisper 3.8.1
#   .venv-peers/piper           wyoming-piper 2.5.2
#   .venv-peers/bench           wyoming-bench 2026.10.0
#   .venv-peers/ha-2024.3       Home Assistant 2024.3.3 on Python 3.11 (the tests' oldest HA)
#   .venv-peers/ha-current      Home Assistant 2025.4.4 on pyenv's Python 3.13 (the newest that installs here)
# Usage: scripts/install-peers.sh [NAME...]   (no NAME: all of them; scripts/install.sh asks for the HA ones)
# Idempotent: a venv whose stamp file matches this script is left alone. Never touches .venv/.
# No model weights are downloaded: the benches point the servers at the files our model packages ship.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[install-peers]\033[0m %s\n' "$*"; }
# with_progress: a slow step prints its elapsed time every few seconds (every 30 s without a terminal).
source scripts/progress.sh

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
  with_progress install-peers "$name" "$dir/bin/python" -m pip install --disable-pip-version-check "$@"
  "$dir/bin/python" -c "import $module"
  rm -f "$dir"/.hearth-peer-*
  touch "$stamp"
}

# wanted NAME: true when NAME was asked for on the command line, or nothing was.
wanted() {
  ((${#selected[@]} == 0)) && return 0
  local n
  for n in "${selected[@]}"; do [ "$n" = "$1" ] && return 0; done
  return 1
}
selected=("$@")

# ha_peer NAME PYTHON VERSION [PIP-ARGS...]: Home Assistant VERSION in .venv-peers/NAME, installed
# against HA's own package_constraints.txt (without it pip backtracks for minutes), plus the
# requirements of exactly the integrations testbed/ha_peer.py configures, so HA runs with --skip-pip
# and never installs anything while a test runs.
ha_peer() {
  local name=$1 python=$2 version=$3
  shift 3
  local dir=.venv-peers/$name
  local id
  # What decides the requirements: this script, the test home, and ha_peer.py's list and walk of integrations.
  id=$({ cat scripts/install-peers.sh testbed/ha_home/configuration.yaml
         sed -n -e '/^FLOW_INTEGRATIONS/p' -e '/^def requirements/,$p' testbed/ha_peer.py; } | sha256sum | cut -c1-16)
  if [ -f "$dir/.hearth-peer-$id" ] && "$dir/bin/python" -c "import homeassistant.const, hassil" 2>/dev/null; then
    say "$name (Home Assistant $version) up to date"
    return
  fi
  local start
  start=$(date +%s)
  say "$name: Home Assistant $version on $("$python" --version) (1-3 minutes the first time)"
  [ -x "$dir/bin/python" ] || "$python" -m venv "$dir"
  local pip=("$dir/bin/python" -m pip install --disable-pip-version-check)
  with_progress install-peers "$name: homeassistant" "${pip[@]}" --no-deps "homeassistant==$version"
  local constraints
  constraints=$("$dir/bin/python" -c 'import importlib.util, pathlib; print(pathlib.Path(importlib.util.find_spec("homeassistant").origin).parent / "package_constraints.txt")')
  with_progress install-peers "$name: its dependencies" "${pip[@]}" "homeassistant==$version" "$@" -c "$constraints"
  local reqtext reqs
  reqtext=$("$dir/bin/python" testbed/ha_peer.py requirements)
  mapfile -t reqs <<<"$reqtext"
  say "$name: integration requirements ${reqs[*]}"
  with_progress install-peers "$name: integration requirements" "${pip[@]}" "${reqs[@]}" -c "$constraints"
  "$dir/bin/python" -c "import homeassistant.const, hassil"
  rm -f "$dir"/.hearth-peer-*
  touch "$dir/.hearth-peer-$id"
  say "$name installed in $(( $(date +%s) - start ))s"
}

# The newest CPython 3.13 pyenv has (Home Assistant 2025.2+ needs 3.13); empty when there is none.
python313() {
  local p
  for p in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.13.*/bin/python3.13; do
    [ -x "$p" ] && echo "$p"
  done | sort -V | tail -n 1
}

wanted satellite && peer satellite wyoming_satellite "wyoming-satellite==1.0.0"
wanted faster-whisper && peer faster-whisper wyoming_faster_whisper "wyoming-faster-whisper==3.8.1"
wanted piper && peer piper wyoming_piper "wyoming-piper==2.5.2"
wanted bench && peer bench wyoming_bench "wyoming-bench==2026.10.0"

# josepy 2 dropped what HA 2024.3's acme imports.
wanted ha-2024.3 && ha_peer ha-2024.3 "$PYTHON" 2024.3.3 "josepy<2"
if wanted ha-current; then
  py13=$(python313)
  if [ -n "$py13" ]; then
    ha_peer ha-current "$py13" 2025.4.4
  else
    say "ha-current skipped: no Python 3.13 under pyenv (tests on the current Home Assistant will be skipped)"
  fi
fi

# wyoming-openwakeword pins a nightly tflite build that PyPI no longer serves: its own dependencies
# are installed by hand (the released tflite-runtime 2.14.0 needs numpy<2), then the server with --no-deps.
ow=.venv-peers/openwakeword
if ! wanted openwakeword; then
  :
elif [ ! -f "$ow/.hearth-peer-$stamp_id" ] || ! "$ow/bin/python" -c "import wyoming_openwakeword, tflite_runtime.interpreter" 2>/dev/null; then
  peer openwakeword wyoming "wyoming==1.2.0" "numpy<2" "tflite-runtime==2.14.0"
  rm -f "$ow"/.hearth-peer-*
  with_progress install-peers "openwakeword server" "$ow/bin/python" -m pip install --disable-pip-version-check \
    --no-deps "wyoming-openwakeword==1.8.2"
  "$ow/bin/python" -c "import wyoming_openwakeword, tflite_runtime.interpreter"
  touch "$ow/.hearth-peer-$stamp_id"
else
  say "openwakeword up to date"
fi
say "done"
