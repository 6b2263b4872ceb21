"""``python -m hub``: run the hub."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

from common.models import ModelMissingError
from common.settings import exit_with, parse_settings
from hub.settings import HubSettings

DESCRIPTION = "Hearth hub: speech recognition, language model and speech for every room."


def main(argv: list[str] | None = None) -> int:
    settings = parse_settings(HubSettings, argv, "hub", DESCRIPTION)
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return asyncio.run(_run(settings))
    except ModelMissingError as err:
        exit_with(f"hub: {err}", 1)
    except KeyboardInterrupt:
        return 0


async def _run(settings: HubSettings) -> int:
    from hub.app import Hub, Models

    logging.getLogger(__name__).info("loading models")
    loaded = await asyncio.to_thread(Models.load, settings)
    hub = Hub(settings, loaded)
    main_task = asyncio.current_task()
    assert main_task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, main_task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await hub.run_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
