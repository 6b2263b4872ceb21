"""Settings are pydantic models, parsed once at the entry point from flags and a TOML file.

Every field becomes a flag (``mqtt.host`` -> ``--mqtt-host``) whose help is the field's
description, so ``--help`` documents every option with its unit. ``--config FILE`` reads a
TOML file with the same names (``[mqtt] host = ...``); flags override the file. ``--profile NAME``
(or ``profile = "NAME"`` at the top of the file) starts from a named settings set for a kind of
machine (``pi5-hub``): the profile lies under the file and the flags, so anything set there wins.
A bad value or an unknown profile ends the program with one line naming it, and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
import types
import typing
from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

S = TypeVar("S", bound=BaseModel)

_UNSET = object()


class _AppendToUnset(argparse.Action):
    """``append`` that starts a fresh list: the shared ``_UNSET`` default is not a list to append to."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        current = getattr(namespace, self.dest, _UNSET)
        items: list[Any] = [] if current is _UNSET else list(typing.cast(list[Any], current))
        setattr(namespace, self.dest, [*items, values])


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _scalar_type(annotation: Any) -> Any:
    """The non-None member of ``X | None``, else the annotation itself."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation


def _flag(path: tuple[str, ...]) -> str:
    return "--" + "-".join(p.replace("_", "-") for p in path)


def _add_fields(parser: argparse.ArgumentParser, model: type[BaseModel], prefix: tuple[str, ...]) -> None:
    for name, field in model.model_fields.items():
        path = (*prefix, name)
        annotation = _scalar_type(field.annotation)
        if _is_model(annotation):
            group = parser.add_argument_group(f"{name} settings", annotation.__doc__)
            _add_fields(group, annotation, path)  # type: ignore[arg-type]
            continue
        default = field.get_default(call_default_factory=True)
        help_text = (field.description or "").replace("%", "%%")
        if default is not None and default != "" and not isinstance(default, (list, dict)):
            shown = default.value if isinstance(default, Enum) else default
            help_text += f" (default: {shown})"
        dest = "__".join(path)
        if annotation is bool:
            parser.add_argument(
                _flag(path), dest=dest, default=_UNSET, action=argparse.BooleanOptionalAction, help=help_text
            )
            continue
        kwargs: dict[str, Any] = {"dest": dest, "default": _UNSET, "help": help_text}
        if isinstance(annotation, type) and issubclass(annotation, Enum):
            kwargs["choices"] = [m.value for m in annotation]
        literals = typing.get_args(annotation) if typing.get_origin(annotation) is typing.Literal else ()
        if literals and all(type(v) is int for v in literals):
            # pydantic does not read "4" as the literal 4: --wake-phases 4 was refused before this
            kwargs["type"], kwargs["choices"] = int, list(literals)
        if typing.get_origin(annotation) in (list, tuple):
            kwargs["action"] = _AppendToUnset
            kwargs["metavar"] = name.upper().rstrip("S")
        else:
            kwargs["metavar"] = name.upper()
        parser.add_argument(_flag(path), **kwargs)


def build_parser(model: type[BaseModel], prog: str, description: str,
                 profiles: Mapping[str, Mapping[str, Any]] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--config", type=Path, help="TOML file with these settings; flags override it")
    if profiles:
        parser.add_argument("--profile", metavar="NAME",
                            help="Start from a named settings set (the config file and flags override it): "
                                 + ", ".join(profiles))
    _add_fields(parser, model, ())
    return parser


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for dest, value in flat.items():
        node = tree
        *parents, leaf = dest.split("__")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return tree


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _describe(err: ValidationError) -> str:
    item = err.errors()[0]
    field = ".".join(str(p) for p in item["loc"])
    flag = _flag(tuple(str(p) for p in item["loc"] if isinstance(p, str)))
    more = err.error_count() - 1
    suffix = f" (and {more} more)" if more else ""
    return f"invalid setting {field} ({flag}): {item['msg']}{suffix}"


def parse_settings(model: type[S], argv: list[str] | None, prog: str, description: str,
                   profiles: Mapping[str, Mapping[str, Any]] | None = None) -> S:
    """Parse flags and ``--config`` (over a profile from ``profiles``) into ``model``; on any error print one
    line and exit 2."""
    parser = build_parser(model, prog, description, profiles)
    args = parser.parse_args(argv)
    values: dict[str, Any] = {}
    if args.config is not None:
        try:
            values = tomllib.loads(args.config.read_text())
        except (OSError, tomllib.TOMLDecodeError) as err:
            parser.exit(2, f"{prog}: error: cannot read --config {args.config}: {err}\n")
    if profiles:
        named = values.pop("profile", None)  # the file may name one; the flag wins over it
        profile = args.profile or named
        if profile is not None and profile not in profiles:
            parser.exit(2, f"{prog}: error: unknown profile {profile!r} (known: {', '.join(profiles)})\n")
        if profile is not None:
            values = _merge(_plain(profiles[profile]), values)
    flags = {k: v for k, v in vars(args).items() if k not in ("config", "profile") and v is not _UNSET}
    values = _merge(values, _nest(flags))
    try:
        return model.model_validate(values)
    except ValidationError as err:
        parser.exit(2, f"{prog}: error: {_describe(err)}\n")
    raise AssertionError("unreachable")


def _plain(tree: Mapping[str, Any]) -> dict[str, Any]:
    """A profile as nested dicts, so merging the file and the flags into it never changes the profile."""
    return {key: _plain(value) if isinstance(value, Mapping) else value for key, value in tree.items()}


def exit_with(message: str, code: int = 2) -> typing.NoReturn:
    print(message, file=sys.stderr)
    raise SystemExit(code)
