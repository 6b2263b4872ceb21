"""Ansible filter: ``{user: password} | mosquitto_passwd`` gives a Mosquitto password file.

Mosquitto's own format ($7$: PBKDF2-HMAC-SHA512, 101 iterations), but with a salt derived
from the user and password, so the same credentials always give the same file and a second
playbook run changes nothing. Runs on the controller; passwords never reach a command line.
"""

import base64
import hashlib

ITERATIONS = 101


def line(user: str, password: str) -> str:
    salt = hashlib.sha256(f"hearth:{user}:{password}".encode()).digest()[:12]
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, ITERATIONS)
    return f"{user}:$7${ITERATIONS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def mosquitto_passwd(users: dict) -> str:
    return "".join(line(user, users[user]) + "\n" for user in sorted(users))


class FilterModule:
    def filters(self):
        return {"mosquitto_passwd": mosquitto_passwd}
