"""Ansible filter: ``{user: password} | mosquitto_passwd(existing, managed)`` gives a Mosquitto
password file.

Lines use Mosquitto's own format ($7$: PBKDF2-HMAC-SHA512, 101 iterations, 12-byte salt, what
``mosquitto_passwd -b`` writes). The salt is derived from the user and the password, so the same
credentials always give the same line and a second playbook run changes nothing. (The passwords
are random, 24 characters, one per device, so a derived salt gives nothing away.) This runs on
the controller, so passwords never appear on a command line.

``existing`` is the current file and ``managed`` the users the playbook wrote last time. Lines
for users the playbook never managed (added by hand with ``mosquitto_passwd``) are kept as they
are. Managed users no longer in ``users`` are dropped: that is how a removed satellite is revoked.
"""

import base64
import hashlib

ITERATIONS = 101
SALT_BYTES = 12


def line(user: str, password: str) -> str:
    if ":" in user or not user:
        raise ValueError(f"bad MQTT user name {user!r}")
    salt = hashlib.sha256(f"hearth:{user}:{password}".encode()).digest()[:SALT_BYTES]
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, ITERATIONS)
    return f"{user}:$7${ITERATIONS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def mosquitto_passwd(users: dict, existing: str = "", managed=()) -> str:
    drop = set(users) | set(managed)
    kept = []
    for raw in (existing or "").splitlines():
        user = raw.split(":", 1)[0].strip()
        if raw.strip() and user not in drop:
            kept.append(raw.rstrip() + "\n")
    return "".join(kept) + "".join(line(user, users[user]) + "\n" for user in sorted(users))


class FilterModule:
    def filters(self):
        return {"mosquitto_passwd": mosquitto_passwd}
