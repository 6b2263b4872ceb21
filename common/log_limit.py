"""Bounded logging for what a peer can repeat at will (bad payloads, refused connections, bad audio).

``burst`` lines per key and window, then the rest only counted; the count is logged as one line
when the key next comes up after the window. 10,000 bad messages give a handful of lines.
"""

from __future__ import annotations

import logging
import time

LOG_BURST = 5
"""Warnings of one kind logged per :data:`LOG_WINDOW_S`; the rest are counted into one summary line."""
LOG_WINDOW_S = 60.0


class LogLimiter:
    """Bounded logging for what a peer can repeat at will: ``burst`` lines per key and window, then a count."""

    def __init__(self, logger: logging.Logger, burst: int = LOG_BURST, window_s: float = LOG_WINDOW_S) -> None:
        self._logger = logger
        self._burst = burst
        self._window_s = window_s
        self._windows: dict[str, tuple[float, int, int]] = {}
        """key -> (window start, lines logged, lines suppressed); keys are few (subscriptions, error codes)."""

    def warning(self, key: str, message: str, *args: object) -> None:
        now = time.monotonic()
        start, logged, suppressed = self._windows.get(key, (now, 0, 0))
        if now - start >= self._window_s:
            if suppressed:
                self._logger.warning("%d more like the above (%s) in the last %.0f s, not logged",
                                     suppressed, key, now - start)
            start, logged, suppressed = now, 0, 0
        if logged < self._burst:
            self._logger.warning(message, *args)
            logged += 1
        else:
            suppressed += 1
        if len(self._windows) > 256 and key not in self._windows:
            self._windows.clear()  # keys come from our own code; this only bounds a misuse
        self._windows[key] = (start, logged, suppressed)
