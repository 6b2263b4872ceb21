# shellcheck shell=bash
# Sourced by scripts/install.sh and scripts/install-peers.sh: one way to run a slow step so that it is
# never silent for minutes (building llama.cpp or the WebRTC audio processing, installing Home Assistant).
#
#   with_progress TAG LABEL COMMAND...
#
# runs COMMAND with its output in a log file and, while it runs, prints "[TAG] LABEL: <what it is on>,
# <N>s elapsed". On a terminal the line is rewritten in place every 5 s; without one (CI) a new line
# every 30 s, so logs stay line-based with no carriage returns. "What it is on" is the build's last
# [step/steps] (cmake, ninja) or pip's last "Collecting / Building wheel for / Installing" line.
# On failure the log's last 40 lines are printed and the command's exit status is returned.

_progress_detail() {
  local log=$1 step line
  step=$(grep -oE '\[[0-9]+/[0-9]+\]' "$log" 2>/dev/null | tail -n 1 || true)
  if [ -n "$step" ]; then
    printf 'build %s' "$step"
    return
  fi
  line=$(grep -E '^ *(Collecting|Downloading|Building wheel for|Building editable for|Installing collected|Installing build dependencies|Preparing metadata|Successfully)' "$log" 2>/dev/null \
         | tail -n 1 | sed -E 's/^ +//; s/ \(from .*//; s/: (started|still running\.*|finished with status .*)$//' | cut -c1-70 || true)
  printf '%s' "${line:-starting}"
}

with_progress() {
  local tag=$1 label=$2
  shift 2
  local log pid start now elapsed last=0 every=30 tty=0
  if [ -t 1 ]; then tty=1; every=5; fi
  log=$(mktemp "${TMPDIR:-/tmp}/hearth-install.XXXXXX")
  "$@" >"$log" 2>&1 &
  pid=$!
  start=$(date +%s)
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    now=$(date +%s)
    elapsed=$((now - start))
    if ((elapsed - last >= every)) && kill -0 "$pid" 2>/dev/null; then
      last=$elapsed
      if ((tty)); then
        printf '\r\033[K[%s] %s: %s, %ds elapsed' "$tag" "$label" "$(_progress_detail "$log")" "$elapsed"
      else
        printf '[%s] %s: %s, %ds elapsed\n' "$tag" "$label" "$(_progress_detail "$log")" "$elapsed"
      fi
    fi
  done
  ((tty && last > 0)) && printf '\n'
  local status=0
  wait "$pid" || status=$?
  if ((status != 0)); then
    tail -n 40 "$log"
    printf '[%s] %s failed after %ds (exit %d; the log above, whole in %s)\n' "$tag" "$label" \
      "$(($(date +%s) - start))" "$status" "$log"
    return "$status"
  fi
  rm -f "$log"
  return 0
}
