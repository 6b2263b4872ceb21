"""``python -m satellite``: run a room satellite."""

from __future__ import annotations

import asyncio
import sys

from common.models import ModelMissingError
from common.process import setup_logging, stop_on_signals
from common.settings import exit_with, parse_settings
from satellite.audio.backends import AudioError
from satellite.server import PortBusyError
from satellite.settings import PROFILES, SatelliteSettings

DESCRIPTION = "Hearth satellite: wake word, VAD, echo cancellation and audio for one room; a Wyoming server."


def main(argv: list[str] | None = None) -> int:
    settings = parse_settings(SatelliteSettings, argv, "satellite", DESCRIPTION, PROFILES)
    setup_logging(settings.log_level)
    try:
        return asyncio.run(_run(settings))
    except (ModelMissingError, AudioError, PortBusyError) as err:
        exit_with(f"satellite: {err}", 1)
    except KeyboardInterrupt:
        return 0


async def _run(settings: SatelliteSettings) -> int:
    from satellite.app import SatelliteApp

    app = await asyncio.to_thread(SatelliteApp, settings)
    stop_on_signals()
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
