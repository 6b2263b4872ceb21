"""Errors with a stable code: what a stage reports when it fails.

The ``code`` is part of the contract (a Wyoming ``error`` event, the turn report on MQTT, the
recorder), so it never changes with the wording; the message is for people and may. Each stage
has its own subclass with its own default code (``stt_failed``, ``llm_failed``, ``tts_failed``);
a narrower failure is a subclass or passes ``code=``. An exception without a code is reported by
its class name, which says nothing stable: wrap it at the stage boundary.
"""

from __future__ import annotations


class CodedError(RuntimeError):
    """A failure with a stable, machine-readable ``code`` and a human message."""

    code: str = "failed"

    def __init__(self, message: str = "", *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


def error_code(err: BaseException) -> str:
    """The stable code of ``err``: its ``code`` when it has one, else its class name."""
    code = getattr(err, "code", None)
    return code if isinstance(code, str) and code else type(err).__name__
