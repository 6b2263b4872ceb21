"""``hearth-broker``: MQTT logins and ACL for a plain Mosquitto, without Ansible.

    hearth-broker init [--secrets-dir /etc/hearth] [--reload]
    hearth-broker add-satellite garage [--reload]
    hearth-broker remove-satellite garage [--reload]
    hearth-broker add-hub hub-b [--secrets-dir /etc/hearth] [--reload]

``init`` creates the ``hub``, ``homeassistant`` and ``monitor`` logins (a generated password each,
written to ``<secrets-dir>/<user>-mqtt-password``, mode 0600; existing ones are kept unless
``--rekey``) and their ACL blocks. ``add-satellite`` writes a generated password into Mosquitto's
password file (hashed by ``mosquitto_passwd``), adds the satellite's ACL block and prints the
``[mqtt]`` table for its ``satellite.toml``. Every ACL line comes from ``common.broker``, the
renderer the tests and Ansible use. Reserved names (``hub``, ``homeassistant``, ``monitor``,
``all``) are refused as satellites. Files are replaced atomically, mode 0600 (owned by the
``mosquitto`` user when run as root); ``--reload`` sends Mosquitto SIGHUP so it re-reads them
without dropping anyone. ``add-hub`` gives a further hub (several hubs sharing the satellites,
``[hubs] ownership``) its own login with the hub's grants, its password in
``<secrets-dir>/<hub_id>-mqtt-password``. Fleets managed with Ansible get the same result from the playbook.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

from common.broker import SERVICE_USERS, Device, Role, acl_lines, remove_user, satellite_name, set_password
from protocol.topics import DEFAULT_ROOT, Topics, validate_device_id

DEFAULT_PASSWD = Path("/etc/mosquitto/hearth/passwd")
DEFAULT_ACL = Path("/etc/mosquitto/hearth/acl")
DEFAULT_SECRETS = Path("/etc/hearth")


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
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    if path.exists():
        stat = path.stat()
        os.chmod(partial, stat.st_mode & 0o770)  # never world-readable, whatever it was
        try:
            os.chown(partial, stat.st_uid, stat.st_gid)
        except PermissionError:
            pass
    else:
        _give_to_mosquitto(partial)
    partial.replace(path)


def _give_to_mosquitto(path: Path) -> None:
    """Mosquitto drops root for its own user and must still read its password and ACL files."""
    if os.geteuid() != 0:
        return
    import pwd

    try:
        entry = pwd.getpwnam("mosquitto")
    except KeyError:
        return
    os.chown(path, entry.pw_uid, entry.pw_gid)


def _replace_block(acl_text: str, device: Device, topics: Topics) -> str:
    block = "\n".join(acl_lines(device, topics)) + "\n"
    kept = [b for b in _blocks(acl_text)
            if not re.match(rf"^user {re.escape(device.username)}\s*$", b.splitlines()[0])]
    return "".join(kept).rstrip("\n") + ("\n\n" if kept else "") + block


def _has_user(passwd: Path, username: str) -> bool:
    return passwd.exists() and re.search(rf"^{re.escape(username)}:", passwd.read_text(), re.M) is not None


def init(*, passwd: Path, acl: Path, secrets_dir: Path, root: str = DEFAULT_ROOT, rekey: bool = False) -> list[str]:
    """Create the service logins (hub, homeassistant, monitor) and their ACL blocks; returns what was done."""
    done: list[str] = []
    secrets_dir.mkdir(parents=True, exist_ok=True)
    topics = Topics(root)
    text = acl.read_text() if acl.exists() else ""
    for username, role in SERVICE_USERS.items():
        text = _replace_block(text, Device(username, role), topics)
        secret = secrets_dir / f"{username}-mqtt-password"
        if _has_user(passwd, username) and not rekey:
            done.append(f"kept {username} (its password is unchanged; --rekey makes a new one)")
            continue
        password = secrets.token_urlsafe(18)
        set_password(passwd, username, password)
        _write_atomically(secret, password + "\n")
        done.append(f"created {username}: password in {secret} (mode 0600; make it readable by the service "
                    f"that uses it)")
    _write_atomically(acl, text)
    _give_to_mosquitto(passwd)
    return done


def add_satellite(satellite: str, *, passwd: Path, acl: Path, root: str = DEFAULT_ROOT,
                  password: str | None = None) -> str:
    """Create (or re-key) a satellite's user and make sure its ACL block is there; returns the password."""
    satellite_name(satellite)
    password = password or secrets.token_urlsafe(18)
    text = acl.read_text() if acl.exists() else ""
    new_text = _replace_block(text, Device(satellite, Role.SATELLITE), Topics(root))
    set_password(passwd, satellite, password)
    _give_to_mosquitto(passwd)
    _write_atomically(acl, new_text)
    return password


def add_hub(hub_id: str, *, passwd: Path, acl: Path, secrets_dir: Path, root: str = DEFAULT_ROOT) -> Path:
    """A further hub's login (the hub's grants: leases, its own availability); returns its password file."""
    validate_device_id(hub_id)
    if hub_id in SERVICE_USERS and hub_id != "hub":
        raise AdminError(f"{hub_id!r} is another service's login")
    secrets_dir.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(18)
    text = acl.read_text() if acl.exists() else ""
    set_password(passwd, hub_id, password)
    _give_to_mosquitto(passwd)
    _write_atomically(acl, _replace_block(text, Device(hub_id, Role.HUB), Topics(root)))
    secret = secrets_dir / f"{hub_id}-mqtt-password"
    _write_atomically(secret, password + "\n")
    return secret


def remove_satellite(satellite: str, *, passwd: Path, acl: Path) -> bool:
    """Remove a satellite's user and ACL block; False if it was not there."""
    satellite_name(satellite)
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
    parser.add_argument("action", choices=["init", "add-satellite", "remove-satellite", "add-hub"])
    parser.add_argument("satellite", nargs="?", help="the satellite's (or, for add-hub, the hub's) id, its MQTT user "
                                                     "name: a-z 0-9 - _")
    parser.add_argument("--passwd", type=Path, default=DEFAULT_PASSWD, help=f"password file (default {DEFAULT_PASSWD})")
    parser.add_argument("--acl", type=Path, default=DEFAULT_ACL, help=f"ACL file (default {DEFAULT_ACL})")
    parser.add_argument("--root", default=DEFAULT_ROOT, help="MQTT topic root (default voice)")
    parser.add_argument("--host", default="hub.local", help="broker address, for the printed satellite settings")
    parser.add_argument("--secrets-dir", type=Path, default=DEFAULT_SECRETS,
                        help=f"init: where the service passwords are written (default {DEFAULT_SECRETS})")
    parser.add_argument("--rekey", action="store_true", help="init: new passwords for existing service logins")
    parser.add_argument("--reload", action="store_true", help="send Mosquitto SIGHUP afterwards")
    args = parser.parse_args(argv)
    if (args.action == "init") != (args.satellite is None):
        parser.error("init takes no name; add-satellite, remove-satellite and add-hub need one")
    try:
        if args.action == "init":
            for line in init(passwd=args.passwd, acl=args.acl, secrets_dir=args.secrets_dir, root=args.root,
                             rekey=args.rekey):
                print(line)
        elif args.action == "add-hub":
            secret = add_hub(args.satellite, passwd=args.passwd, acl=args.acl, secrets_dir=args.secrets_dir,
                             root=args.root)
            print(f"added hub {args.satellite}: password in {secret}; in its hub.toml: hub_id = \"{args.satellite}\", "
                  f"[mqtt] username = \"{args.satellite}\", [hubs] ownership = true")
        elif args.action == "add-satellite":
            password = add_satellite(args.satellite, passwd=args.passwd, acl=args.acl, root=args.root)
            print(f"# added {args.satellite}: paste into its satellite.toml\n[mqtt]\nhost = \"{args.host}\"\n"
                  f"username = \"{args.satellite}\"\npassword = \"{password}\"\nroot = \"{args.root}\"")
        elif not remove_satellite(args.satellite, passwd=args.passwd, acl=args.acl):
            print(f"{args.satellite} had no credentials or ACL lines", file=sys.stderr)
        else:
            print(f"removed {args.satellite}")
        if args.reload:
            reload_broker()
    except (ValueError, AdminError, OSError, subprocess.CalledProcessError) as err:  # TopicError, reserved names
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
