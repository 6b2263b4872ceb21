"""``python -m satellite``: run a room satellite."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

from common.models import ModelMissingError
from common.settings import exit_with, parse_settings
from satellite.audio.backends import AudioError
from satellite.settings import SatelliteSettings

DESCRIPTION = "Hearth satellite: wake word, VAD, echo cancellation and audio for one room; a Wyoming server."


def main(argv: list[str] | None = None) -> int:
    settings = parse_settings(SatelliteSettings, argv, "satellite", DESCRIPTION)
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return asyncio.run(_run(settings))
    except (ModelMissingError, AudioError) as err:
        exit_with(f"satellite: {err}", 1)
    except KeyboardInterrupt:
        return 0


async def _run(settings: SatelliteSettings) -> int:
    from satellite.app import SatelliteApp

    app = await asyncio.to_thread(SatelliteApp, settings)
    main_task = asyncio.current_task()
    assert main_task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, main_task.cancel)
    await app.start()
    try:
        await app.wait()
    except asyncio.CancelledError:
        pass
    finally:
        await app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
