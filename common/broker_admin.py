"""``hearth-broker``: add or remove a satellite's MQTT credentials and ACL lines.

    python -m common.broker_admin add-satellite garage [--reload]
    python -m common.broker_admin remove-satellite garage [--reload]

Adding writes a generated password into Mosquitto's password file (hashed by
``mosquitto_passwd``), appends the satellite's ACL block (the same lines ``common.broker``
generates for every device, so the rules cannot drift from the topic tree), and prints the
``[mqtt]`` table to paste into that satellite's ``satellite.toml``. Both files are changed
atomically; ``--reload`` sends Mosquitto SIGHUP so it re-reads them without dropping anyone.
Fleets managed with Ansible get the same result from the playbook.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

from common.broker import Device, Role, acl_lines, remove_user, set_password
from protocol.topics import DEFAULT_ROOT, TopicError, Topics, validate_device_id

DEFAULT_PASSWD = Path("/etc/mosquitto/hearth/passwd")
DEFAULT_ACL = Path("/etc/mosquitto/hearth/acl")


class AdminError(RuntimeError):
    pass


def _blocks(acl_text: str) -> list[str]:
    """The ACL split into per-user blocks (a block starts at a ``user`` line)."""
    blocks: list[str] = []
    for line in acl_text.splitlines():
        if line.startswith("user ") or not blocks:
            blocks.append("")
        blocks[-1] += line + "\n"
    return blocks


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    if path.exists():
        stat = path.stat()
        os.chmod(partial, stat.st_mode & 0o777)
        try:
            os.chown(partial, stat.st_uid, stat.st_gid)
        except PermissionError:
            pass
    partial.replace(path)


def add_satellite(satellite: str, *, passwd: Path, acl: Path, root: str = DEFAULT_ROOT,
                  password: str | None = None) -> str:
    """Create (or re-key) a satellite's user and make sure its ACL block is there; returns the password."""
    validate_device_id(satellite)
    password = password or secrets.token_urlsafe(18)
    block = "\n".join(acl_lines(Device(satellite, Role.SATELLITE), Topics(root))) + "\n"
    text = acl.read_text() if acl.exists() else ""
    kept = [b for b in _blocks(text) if not re.match(rf"^user {re.escape(satellite)}\s*$", b.splitlines()[0])]
    new_text = "".join(kept).rstrip("\n") + ("\n\n" if kept else "") + block
    set_password(passwd, satellite, password)
    _write_atomically(acl, new_text)
    return password


def remove_satellite(satellite: str, *, passwd: Path, acl: Path) -> bool:
    """Remove a satellite's user and ACL block; False if it was not there."""
    validate_device_id(satellite)
    text = acl.read_text() if acl.exists() else ""
    blocks = _blocks(text)
    kept = [b for b in blocks if not re.match(rf"^user {re.escape(satellite)}\s*$", b.splitlines()[0])]
    found = len(kept) != len(blocks)
    if passwd.exists() and re.search(rf"^{re.escape(satellite)}:", passwd.read_text(), re.M):
        remove_user(passwd, satellite)
        found = True
    _write_atomically(acl, "".join(kept))
    return found


def reload_broker() -> None:
    """Make Mosquitto re-read its password and ACL files (SIGHUP; keeps every connection)."""
    for command in (["systemctl", "reload", "mosquitto"], ["pkill", "-HUP", "-x", "mosquitto"]):
        try:
            if subprocess.run(command, capture_output=True).returncode == 0:
                return
        except FileNotFoundError:
            continue
    raise AdminError("could not reload Mosquitto: run `systemctl reload mosquitto` yourself")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m common.broker_admin", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["add-satellite", "remove-satellite"])
    parser.add_argument("satellite", help="the satellite's id (its MQTT user name): a-z 0-9 - _")
    parser.add_argument("--passwd", type=Path, default=DEFAULT_PASSWD, help=f"password file (default {DEFAULT_PASSWD})")
    parser.add_argument("--acl", type=Path, default=DEFAULT_ACL, help=f"ACL file (default {DEFAULT_ACL})")
    parser.add_argument("--root", default=DEFAULT_ROOT, help="MQTT topic root (default voice)")
    parser.add_argument("--host", default="hub.local", help="broker address, for the printed satellite settings")
    parser.add_argument("--reload", action="store_true", help="send Mosquitto SIGHUP afterwards")
    args = parser.parse_args(argv)
    try:
        if args.action == "add-satellite":
            password = add_satellite(args.satellite, passwd=args.passwd, acl=args.acl, root=args.root)
            print(f"# added {args.satellite}: paste into its satellite.toml\n[mqtt]\nhost = \"{args.host}\"\n"
                  f"username = \"{args.satellite}\"\npassword = \"{password}\"\nroot = \"{args.root}\"")
        elif not remove_satellite(args.satellite, passwd=args.passwd, acl=args.acl):
            print(f"{args.satellite} had no credentials or ACL lines", file=sys.stderr)
        else:
            print(f"removed {args.satellite}")
        if args.reload:
            reload_broker()
    except (TopicError, AdminError, OSError, subprocess.CalledProcessError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
