"""``python -m hub``: run the hub. ``python -m hub replay <session>``: replay a recorded session."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys

from common.models import ModelLoadError, ModelMissingError
from common.process import setup_logging, stop_on_signals
from common.settings import exit_with, parse_settings
from hub.app import StartupError
from hub.settings import PROFILES, HubSettings
from hub.storage.store import StoreError

DESCRIPTION = "Hearth hub: speech recognition, language model and speech for every room."


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["replay"]:
        from hub.storage.replay import main as replay

        return replay(args[1:])
    settings = parse_settings(HubSettings, argv, "hub", DESCRIPTION, PROFILES)
    setup_logging(settings.log_level)
    try:
        return asyncio.run(_run(settings))
    except (ModelMissingError, ModelLoadError) as err:
        exit_with(f"hub: {err}", 1)
    except StoreError as err:
        exit_with(f"hub: {err}", 1)
    except StartupError as err:
        exit_with(f"hub: {err}", 1)
    except KeyboardInterrupt:
        return 0


async def _run(settings: HubSettings) -> int:
    from hub.app import Hub, Models

    logging.getLogger(__name__).info("loading models")
    try:
        loaded = await asyncio.to_thread(Models.load, settings)
    except (ModelMissingError, ModelLoadError) as err:
        await report_failure(settings, err)
        raise
    hub = Hub(settings, loaded)
    stop_on_signals()
    with contextlib.suppress(asyncio.CancelledError):
        await hub.run_forever()
    return 0


async def report_failure(settings: HubSettings, err: ModelMissingError | ModelLoadError) -> None:
    """Tell the house why the hub is not coming up (retained hub state), then let it exit."""
    if not settings.mqtt.enabled:
        return
    from common.mqtt import MqttLink
    from hub import __version__
    from protocol.payloads import HubState, ModelStatus
    from protocol.topics import HubTopic, Topics

    topics = Topics(settings.mqtt.root)
    link = MqttLink(settings.mqtt, f"hearth-hub-{settings.hub_id}")
    failed = [ModelStatus(kind=err.kind, name=err.name, status="failed",  # type: ignore[arg-type]
                          detail=err.detail)] if isinstance(err, ModelLoadError) else []
    link.publish(topics.hub(HubTopic.STATE), HubState(status="failed", models=failed, problems=[str(err)[:2000]],
                                                       software=f"hearth-hub {__version__}"), retain=True)
    try:
        async with link.running(connect_timeout=5):
            await link.flush(3.0)
    except TimeoutError:
        logging.getLogger(__name__).warning("could not report the failure on MQTT (broker unreachable)")


if __name__ == "__main__":
    sys.exit(main())
