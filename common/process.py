"""What both programs do around their main task: one log format, and SIGTERM/SIGINT as a clean stop."""

from __future__ import annotations

import asyncio
import logging
import signal


def setup_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def stop_on_signals() -> None:
    """Cancel the current (main) task on SIGTERM or SIGINT, so its ``finally`` blocks shut down cleanly."""
    main_task = asyncio.current_task()
    assert main_task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, main_task.cancel)
