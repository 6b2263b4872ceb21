"""``python -m hub``: run the hub. ``python -m hub replay <session>``: replay a recorded session."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys

from common.models import ModelMissingError
from common.process import setup_logging, stop_on_signals
from common.settings import exit_with, parse_settings
from hub.settings import HubSettings

DESCRIPTION = "Hearth hub: speech recognition, language model and speech for every room."


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["replay"]:
        from hub.replay import main as replay

        return replay(args[1:])
    settings = parse_settings(HubSettings, argv, "hub", DESCRIPTION)
    setup_logging(settings.log_level)
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
    stop_on_signals()
    with contextlib.suppress(asyncio.CancelledError):
        await hub.run_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
