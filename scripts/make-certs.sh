#!/usr/bin/env bash
# TLS for the house broker in one command: a small private CA and the broker's certificate.
#
#   sudo scripts/make-certs.sh broker.local [192.168.1.10 other-name ...]
#   sudo scripts/make-certs.sh --out DIR broker.local
#
# Writes to DIR (default /etc/mosquitto/hearth/certs): ca.key (0600, keep it; nothing else needs
# it), ca.crt (give it to every device: --mqtt-ca-file, or Ansible's hearth_tls_ca_src),
# broker.key (0640, group mosquitto) and broker.crt, valid for every name and address given
# (the first is the common name). An existing CA is reused, so running it again for a new
# address re-issues only the broker's certificate and devices keep trusting it.
# Then uncomment the 8883 listener in mosquitto.conf (its paths are these files) and restart
# Mosquitto; clients use --mqtt-tls --mqtt-port 8883 --mqtt-ca-file ca.crt.
# Tested by tests/test_security_tls.py (a real Mosquitto on the shipped config's TLS block).
set -euo pipefail
out=/etc/mosquitto/hearth/certs
days_ca=3650
days_broker=825
usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    --) shift; break ;;
    -*) echo "make-certs: unknown option $1" >&2; usage ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || { echo "make-certs: give the broker's host name (and any other names or addresses)" >&2; usage; }
command -v openssl >/dev/null || { echo "make-certs: openssl is needed (apt-get install openssl)" >&2; exit 1; }

umask 077
mkdir -p "$out"
san=""
for name in "$@"; do
  if [[ $name =~ ^[0-9.]+$ || $name == *:* ]]; then san+="IP:$name,"; else san+="DNS:$name,"; fi
done
san=${san%,}

if [ ! -s "$out/ca.key" ] || [ ! -s "$out/ca.crt" ]; then
  openssl req -x509 -newkey rsa:3072 -sha256 -nodes -days "$days_ca" \
    -keyout "$out/ca.key" -out "$out/ca.crt" -subj "/CN=Hearth house CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  echo "made a new CA: $out/ca.crt"
else
  echo "reusing the CA in $out"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
openssl req -newkey rsa:2048 -sha256 -nodes -keyout "$tmp/broker.key" -out "$tmp/broker.csr" -subj "/CN=$1" 2>/dev/null
printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' \
  "$san" > "$tmp/ext.cnf"
openssl x509 -req -in "$tmp/broker.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" -CAcreateserial \
  -CAserial "$out/ca.srl" -days "$days_broker" -sha256 -extfile "$tmp/ext.cnf" -out "$tmp/broker.crt" 2>/dev/null
mv "$tmp/broker.key" "$out/broker.key"
mv "$tmp/broker.crt" "$out/broker.crt"
chmod 0600 "$out/ca.key"
chmod 0644 "$out/ca.crt" "$out/broker.crt"
chmod 0640 "$out/broker.key"
chmod 0755 "$out"
# Mosquitto drops root for its own user: it must read the broker's key, nobody else may.
if [ "$(id -u)" -eq 0 ] && getent group mosquitto >/dev/null; then
  chgrp mosquitto "$out/broker.key"
fi
openssl verify -CAfile "$out/ca.crt" "$out/broker.crt" >/dev/null
echo "broker certificate for $san: $out/broker.crt (key $out/broker.key)"
echo "give devices $out/ca.crt; uncomment the 8883 listener in mosquitto.conf and restart mosquitto"
