#!/usr/bin/env bash
# Deployment checks (run by scripts/test.sh; run from anywhere, works from the repo root):
#  1. systemd-analyze verify on both units, unchanged, in a scratch root;
#  2. ansible-playbook --syntax-check and ansible-lint (profile production);
#  3. the playbook for real against this machine (broker, hub and satellite at once) into a
#     temporary root, then a second run that must report changed=0;
#  4. the rendered hub.toml and satellite.toml load with the programs' own settings parser;
#  5. a real Mosquitto with the rendered config: generated passwords work, wrong and anonymous
#     logins fail, the ACL keeps a satellite in its own subtree;
#  6. removing the satellite from the inventory revokes it (passwd, ACL, controller credentials,
#     hub.toml) and keeps a hand-added user; the reloaded broker refuses its old password.
# Installs what it needs: ansible-core and ansible-lint into .venv-deploy, systemd and Mosquitto
# with apt-get if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
say() { printf '\033[1m[deploy]\033[0m %s\n' "$*"; }
ok() { printf '  ok: %s\n' "$*"; }
fail() { printf '  FAILED: %s\n' "$*" >&2; exit 1; }
started=$(date +%s)
# ansible-lint leaves an empty .ansible/ cache at the repository root; removed on exit if new.
lint_cache_existed=no; [ -e .ansible ] && lint_cache_existed=yes

apt_install() {
  say "installing $* with apt-get"
  local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq >/dev/null || true
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}
command -v systemd-analyze >/dev/null || apt_install systemd
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || apt_install mosquitto mosquitto-clients
command -v mosquitto_pub >/dev/null || apt_install mosquitto-clients
export PATH="$PATH:/usr/sbin"

if [ ! -x .venv-deploy/bin/ansible-lint ] || [ ! -x .venv-deploy/bin/ansible-playbook ]; then
  say "installing ansible-core and ansible-lint into .venv-deploy"
  python3 -m venv .venv-deploy
  .venv-deploy/bin/python -m pip install -q --disable-pip-version-check "ansible-core==2.17.14" "ansible-lint==25.9.2"
fi
export PATH="$repo/.venv-deploy/bin:$PATH"
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 ANSIBLE_STDOUT_CALLBACK=default
say "tools: $(ansible-playbook --version 2>/dev/null | sed -n 1p), $(ansible-lint --version 2>/dev/null | sed -n 1p | cut -d' ' -f1-2), $(systemd-analyze --version | sed -n 1p), mosquitto $(mosquitto -h 2>/dev/null | awk 'NR==1{print $3}')"

tmp=$(mktemp -d)
broker_pid=""
cleanup() {
  [ -z "$broker_pid" ] || kill "$broker_pid" 2>/dev/null || true
  rm -rf "$tmp"
  [ "$lint_cache_existed" = yes ] || rm -rf "$repo/.ansible"
}
trap cleanup EXIT

# --- 1. systemd units ---------------------------------------------------------------------
say "1. systemd-analyze verify systemd/hearth-hub.service systemd/hearth-satellite.service"
# The units are verified exactly as shipped, in a scratch root holding the distribution's units
# and a stub for the ExecStart interpreter (verify checks that it exists and is executable).
sysroot="$tmp/sysroot"
mkdir -p "$sysroot/etc/systemd/system" "$sysroot/usr/lib/systemd" "$sysroot/opt/hearth/.venv/bin"
cp -r /usr/lib/systemd/system "$sysroot/usr/lib/systemd/"
cp systemd/hearth-hub.service systemd/hearth-satellite.service "$sysroot/etc/systemd/system/"
printf '#!/bin/sh\nexit 0\n' > "$sysroot/opt/hearth/.venv/bin/python"
chmod +x "$sysroot/opt/hearth/.venv/bin/python"
for unit in hearth-hub.service hearth-satellite.service; do
  if ! out=$(systemd-analyze --root="$sysroot" verify "$sysroot/etc/systemd/system/$unit" 2>&1); then
    echo "$out"; fail "systemd-analyze verify $unit"
  fi
  # verify exits 0 on unknown or badly written settings; any message at all is a failure here.
  [ -z "$out" ] || { echo "$out"; fail "systemd-analyze verify $unit printed warnings"; }
  for setting in Type=notify WatchdogSec=30 NotifyAccess=main Restart=on-failure RestartSec=2 \
                 User=hearth ProtectSystem=strict ReadWritePaths=/var/lib/hearth PrivateTmp=yes \
                 NoNewPrivileges=yes ProtectHome=yes; do
    grep -q "^$setting" "systemd/$unit" || fail "$unit lacks $setting"
  done
  exposure=$(systemd-analyze --root="$sysroot" security --offline=true "$sysroot/etc/systemd/system/$unit" 2>/dev/null \
             | grep -o 'Overall exposure level for.*' || true)
  ok "$unit verifies clean; ${exposure:-exposure not reported}"
done
grep -q '^SupplementaryGroups=audio' systemd/hearth-satellite.service || fail "satellite unit lacks the audio group"
grep -q '^DeviceAllow=' systemd/hearth-satellite.service || fail "satellite unit lacks DeviceAllow for the sound card"

# --- 2. syntax and lint -------------------------------------------------------------------
cd ansible
say "2. ansible-playbook --syntax-check site.yml (example and CI inventories)"
ansible-playbook -i inventory.example.ini site.yml --syntax-check >/dev/null
ansible-playbook -i ci-inventory.ini site.yml --syntax-check >/dev/null
ok "syntax"
say "   ansible-lint (profile: $(sed -n 's/^profile: *//p' .ansible-lint))"
ansible-lint --offline -q --nocolor || fail "ansible-lint"
ok "ansible-lint clean"

# --- 3. real runs, idempotence ------------------------------------------------------------
root="$tmp/root"
creds="$tmp/credentials"
run() {  # run <inventory> <log>
  ansible-playbook -i "$1" site.yml \
    -e hearth_root="$root" -e hearth_manage_services=false -e hearth_install_method=skip \
    -e hearth_credentials_dir="$creds" -e ansible_become=false \
    -e ansible_python_interpreter="$(command -v python3)" > "$2" 2>&1 || { cat "$2"; fail "playbook run ($2)"; }
  sed -n '/PLAY RECAP/,$p' "$2" | grep -v '^$' | sed 's/^/    /'
}
say "3. playbook run 1 into $root (localhost is broker, hub and satellite 'kitchen')"
run ci-inventory.ini "$tmp/run1.log"
say "   playbook run 2 must change nothing"
run ci-inventory.ini "$tmp/run2.log"
grep -qE '^localhost +: ok=[0-9]+ +changed=0 +unreachable=0 +failed=0' "$tmp/run2.log" \
  || { cat "$tmp/run2.log"; fail "the second run changed something: not idempotent"; }
ok "second run: changed=0"

etc="$root/etc/hearth"
mq="$root/etc/mosquitto/hearth"
for f in "$etc/hub.toml" "$etc/satellite.toml" "$etc/hub-mqtt-password" "$etc/satellite-mqtt-password" \
         "$root/etc/systemd/system/hearth-hub.service" "$root/etc/systemd/system/hearth-satellite.service" \
         "$root/etc/mosquitto/conf.d/hearth.conf" "$mq/passwd" "$mq/acl" "$mq/managed-users"; do
  [ -f "$f" ] || fail "missing ${f#"$root"}"
done
for user in hub homeassistant monitor kitchen; do
  grep -q "^$user:\$7\$101\\$" "$mq/passwd" || fail "no password entry for $user"
  [ -s "$creds/$user" ] || fail "no controller credential for $user"
done
[ "$(stat -c %a "$mq/passwd")" = 600 ] || fail "passwd is not mode 0600"
grep -q '"tcp://localhost:10700"' "$etc/hub.toml" || fail "hub.toml does not list the satellite"
grep -q '^id = "kitchen"' "$etc/satellite.toml" || fail "satellite.toml has the wrong id"
cmp -s ../systemd/hearth-hub.service "$root/etc/systemd/system/hearth-hub.service" || fail "hub unit differs"
ok "files in place: /etc/hearth/{hub,satellite}.toml, password files, units, /etc/mosquitto/hearth/{passwd,acl}"

# --- 4. the programs accept their configuration -------------------------------------------
cd "$repo"
say "4. hub.toml and satellite.toml through the programs' own settings parser"
if [ -x .venv/bin/python ]; then
  .venv/bin/python - "$etc/hub.toml" "$etc/satellite.toml" <<'EOF' || fail "a rendered config is rejected"
import sys
from common.settings import parse_settings
from hub.settings import HubSettings
from satellite.settings import SatelliteSettings

hub = parse_settings(HubSettings, ["--config", sys.argv[1]], "hub", "")
sat = parse_settings(SatelliteSettings, ["--config", sys.argv[2]], "satellite", "")
assert [e.uri for e in hub.satellites] == ["tcp://localhost:10700"], hub.satellites
assert hub.mqtt.username == "hub" and sat.mqtt.username == sat.id == "kitchen"
print(f"  ok: hub: mqtt {hub.mqtt.username}@{hub.mqtt.host}:{hub.mqtt.port}, satellites {hub.satellites}")
print(f"  ok: satellite: id {sat.id}, area {sat.area}, wake {sat.wake.model}, wyoming :{sat.wyoming.port}")
EOF
else
  say "   skipped: no .venv (run scripts/install.sh to include this check)"
fi

# --- 5. a real broker with the rendered configuration -------------------------------------
say "5. Mosquitto with the rendered hearth.conf, passwd and ACL"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$tmp/broker/conf.d"
sed -e "s|/etc/mosquitto/hearth/|$mq/|" -e "s|^listener 1883\$|listener $port 127.0.0.1|" \
  "$root/etc/mosquitto/conf.d/hearth.conf" > "$tmp/broker/conf.d/hearth.conf"
grep -q "^listener $port 127.0.0.1" "$tmp/broker/conf.d/hearth.conf" || fail "hearth.conf has no listener 1883"
# Like Debian's /etc/mosquitto/mosquitto.conf, which includes conf.d.
cat > "$tmp/broker/mosquitto.conf" <<EOF
user root
persistence false
log_dest file $tmp/broker/mosquitto.log
include_dir $tmp/broker/conf.d
EOF
mosquitto -c "$tmp/broker/mosquitto.conf" 2>>"$tmp/broker/mosquitto.log" &
broker_pid=$!
pw() { cut -d' ' -f1 < "$creds/$1"; }
pub() { local user=$1 pass=$2; shift 2; mosquitto_pub -h 127.0.0.1 -p "$port" -u "$user" -P "$pass" -q 1 "$@"; }
sub() { local user=$1 pass=$2; shift 2; mosquitto_sub -h 127.0.0.1 -p "$port" -u "$user" -P "$pass" -v -W 2 "$@" 2>/dev/null || true; }
hub_pw=$(head -n 1 "$etc/hub-mqtt-password")
kitchen_pw=$(head -n 1 "$etc/satellite-mqtt-password")
for _ in $(seq 50); do pub hub "$hub_pw" -t voice/v1/hub/probe -m up 2>/dev/null && break; sleep 0.1; done
pub hub "$hub_pw" -t voice/v1/hub/probe -m up 2>/dev/null || { cat "$tmp/broker/mosquitto.log"; fail "the hub cannot log in"; }
ok "hub logs in with /etc/hearth/hub-mqtt-password"
pub kitchen "$kitchen_pw" -t voice/v1/satellite/kitchen/probe -m up || fail "kitchen cannot log in"
ok "kitchen logs in with /etc/hearth/satellite-mqtt-password"
pub monitor "$(pw monitor)" -t x -m x 2>/dev/null && pub homeassistant "$(pw homeassistant)" -t x -m x 2>/dev/null \
  || fail "monitor or homeassistant cannot log in"
ok "monitor and homeassistant log in with their controller credentials"
! pub kitchen wrong-password -t voice/v1/satellite/kitchen/probe -m x 2>/dev/null || fail "a wrong password is accepted"
! mosquitto_pub -h 127.0.0.1 -p "$port" -t voice/v1/satellite/kitchen/probe -m x 2>/dev/null || fail "anonymous login is accepted"
ok "wrong password and anonymous login refused"
pub kitchen "$kitchen_pw" -r -t voice/v1/satellite/kitchen/check -m own-subtree
pub kitchen "$kitchen_pw" -r -t voice/v1/satellite/bedroom/check -m forged 2>/dev/null || true
pub kitchen "$kitchen_pw" -r -t voice/v1/command/all -m forged 2>/dev/null || true
pub hub "$hub_pw" -r -t voice/v1/command/kitchen -m for-kitchen
pub hub "$hub_pw" -r -t voice/v1/command/bedroom -m for-bedroom
seen=$(sub monitor "$(pw monitor)" -t 'voice/#')
grep -qx 'voice/v1/satellite/kitchen/check own-subtree' <<<"$seen" || { echo "$seen"; fail "kitchen cannot write its own subtree"; }
! grep -q forged <<<"$seen" || { echo "$seen"; fail "kitchen wrote outside its subtree"; }
ok "ACL: kitchen writes voice/v1/satellite/kitchen/#, not another room's subtree or commands"
seen=$(sub kitchen "$kitchen_pw" -t voice/v1/command/kitchen -t voice/v1/command/bedroom)
grep -qx 'voice/v1/command/kitchen for-kitchen' <<<"$seen" || { echo "$seen"; fail "kitchen cannot read its commands"; }
! grep -q for-bedroom <<<"$seen" || { echo "$seen"; fail "kitchen reads another room's commands"; }
ok "ACL: kitchen reads its own commands only"

# --- 6. removing the satellite revokes it -------------------------------------------------
say "6. remove the satellite from the inventory and run again"
mosquitto_passwd -b "$mq/passwd" guest guest-password
cat > "$tmp/removed.ini" <<'EOF'
[broker]
localhost

[hub]
localhost

[satellites]

[all:vars]
ansible_connection=local
EOF
cd ansible
run "$tmp/removed.ini" "$tmp/run3.log"
cd "$repo"
! grep -q '^kitchen:' "$mq/passwd" || fail "kitchen is still in the password file"
! grep -q '^user kitchen' "$mq/acl" || fail "kitchen still has an ACL block"
[ ! -e "$creds/kitchen" ] || fail "kitchen's password is still in the credentials folder"
grep -q '^satellites = \[\]' "$etc/hub.toml" || fail "hub.toml still lists the satellite"
grep -q '^guest:' "$mq/passwd" || fail "a hand-added user was removed"
! grep -q '^kitchen$' "$mq/managed-users" || fail "kitchen is still a managed user"
ok "passwd, ACL, credentials and hub.toml no longer have kitchen; hand-added 'guest' kept"
kill -HUP "$broker_pid"   # what the role's 'Reload mosquitto' handler does
sleep 0.5
! pub kitchen "$kitchen_pw" -t voice/v1/satellite/kitchen/probe -m x 2>/dev/null || fail "the broker still accepts kitchen"
pub guest guest-password -t x -m x 2>/dev/null || fail "the hand-added user cannot log in"
pub hub "$hub_pw" -t voice/v1/hub/probe -m x || fail "the hub lost its login"
ok "after reload the broker refuses kitchen's old password; hub and guest still log in"

say "all deployment checks passed in $(( $(date +%s) - started ))s"
