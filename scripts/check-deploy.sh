#!/usr/bin/env bash
# Deployment checks (run by scripts/test.sh): systemd units verify, the playbook passes
# syntax check and ansible-lint, runs for real against this machine into a temporary root,
# and a second run changes nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\033[1m[deploy]\033[0m %s\n' "$*"; }

if ! command -v systemd-analyze >/dev/null; then
  say "installing systemd (for systemd-analyze)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q systemd >/dev/null
fi
if [ ! -x .venv-deploy/bin/ansible-lint ]; then
  say "installing ansible and ansible-lint into .venv-deploy"
  python3 -m venv .venv-deploy
  .venv-deploy/bin/python -m pip install -q --disable-pip-version-check 2>/dev/null "ansible-core==2.17.14" "ansible-lint==25.9.2"
fi
export PATH="$PWD/.venv-deploy/bin:$PATH"
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

say "systemd-analyze verify"
# verify resolves ExecStart and the user; give it both in a scratch root-free way.
mkdir -p "$tmp/units"
for unit in systemd/*.service; do
  sed "s|/opt/hearth/.venv/bin/python|$(command -v python3)|" "$unit" > "$tmp/units/$(basename "$unit")"
done
id hearth >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin hearth
out=$(systemd-analyze verify "$tmp"/units/*.service 2>&1 || true)
if echo "$out" | grep -v -E "^$|Failed to (connect|open).*bus|System has not been booted with systemd|Cannot add dependency job|(network-online|sound|mosquitto)\.target|mosquitto\.service" | grep -q .; then
  echo "$out"
  say "systemd-analyze verify reported problems"
  exit 1
fi

cd ansible
say "ansible-playbook --syntax-check"
ansible-playbook -i inventory.example.ini site.yml --syntax-check >/dev/null

say "ansible-lint"
ansible-lint --offline -q site.yml

run() {
  ansible-playbook -i ci-inventory.ini site.yml \
    -e hearth_root="$tmp/root" -e hearth_manage_services=false -e hearth_install_method=skip \
    -e hearth_credentials_dir="$tmp/credentials" -e ansible_become=false \
    -e ansible_python_interpreter="$(command -v python3)"
}
mkdir -p "$tmp/root/etc/mosquitto/conf.d"
say "playbook run 1 (into $tmp/root)"
run > "$tmp/run1.log" || { cat "$tmp/run1.log"; exit 1; }
say "playbook run 2 must change nothing"
run > "$tmp/run2.log" || { cat "$tmp/run2.log"; exit 1; }
if ! grep -E "^localhost +: .*changed=0 .*failed=0" "$tmp/run2.log" >/dev/null; then
  cat "$tmp/run2.log"
  say "the second run changed something: not idempotent"
  exit 1
fi
grep -q "^kitchen:" "$tmp/root/etc/mosquitto/hearth/passwd"
grep -q "tcp://localhost:10700" "$tmp/root/etc/hearth/hub.toml"
say "all deployment checks passed"
