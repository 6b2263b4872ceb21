"""Config files for the real ``python -m hub`` and ``python -m satellite`` processes the demo, tests and bench start.

Only what those configs hold (strings, numbers, booleans, lists and one level of tables): enough to write
``--config`` files without a TOML writer dependency.
"""

from __future__ import annotations

from pathlib import Path

from common.local_broker import MosquittoBroker


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_toml(path: Path, values: dict[str, object]) -> None:
    """Top-level keys first, then each ``dict`` value as a ``[section]``."""
    lines = [f"{k} = {toml_value(v)}" for k, v in values.items() if not isinstance(v, dict)]
    for section, table in values.items():
        if isinstance(table, dict):
            lines.append(f"\n[{section}]")
            lines += [f"{k} = {toml_value(v)}" for k, v in table.items()]
    path.write_text("\n".join(lines) + "\n")


def mqtt_table(broker: MosquittoBroker, user: str) -> dict[str, object]:
    """The ``[mqtt]`` table for ``user``'s account on ``broker``."""
    return {"host": "127.0.0.1", "port": broker.port, "username": user,
            "password": broker.passwords[user], "root": broker.root}
