"""Timers in the hub's SQLite file: they outlast the hub, pause, resume, and ring late rather than never."""

from __future__ import annotations

import asyncio

from hub.home.timers import Timer, TimerRegistry
from hub.storage.store import Store


class Rings:
    def __init__(self, delivered: bool = True) -> None:
        self.delivered = delivered
        self.rung: list[Timer] = []
        self.event = asyncio.Event()

    async def __call__(self, timer: Timer) -> bool:
        self.rung.append(timer)
        self.event.set()
        return self.delivered


async def test_a_running_timer_is_there_again_after_a_restart(tmp_path):
    store = Store(tmp_path / "hub.sqlite")
    first = TimerRegistry(Rings(), store)
    started = first.start("kitchen", 30, "pasta")
    await first.close()  # the hub stops; the timer does not
    store.close()

    store = Store(tmp_path / "hub.sqlite")
    second = TimerRegistry(Rings(), store)
    assert second.restore() == 1
    [again] = second.running("kitchen")
    assert (again.id, again.name, again.total_seconds) == (started.id, "pasta", 30)
    assert 28 < again.remaining() <= 30
    assert await second.cancel("kitchen") == [again]
    assert store.query("SELECT COUNT(*) FROM timers") == [(0,)]
    store.close()


async def test_a_timer_that_ended_while_the_hub_was_down_rings_and_waits_for_its_satellite(tmp_path):
    store = Store(tmp_path / "hub.sqlite")
    first = TimerRegistry(Rings(), store)
    first.start("kitchen", 1)
    await first.close()
    await asyncio.sleep(1.2)

    away = Rings(delivered=False)  # the hub is back, the kitchen satellite not yet
    second = TimerRegistry(away, store)
    second.restore()
    await asyncio.wait_for(away.event.wait(), 2)
    assert second.has_missed("kitchen") and not second.running("kitchen")

    back = Rings()
    second._on_finished = back  # noqa: SLF001 - the satellite reconnected: the same callback now reaches it
    assert await second.ring_missed("kitchen") == 1
    assert [t.satellite for t in back.rung] == ["kitchen"]
    assert not second.has_missed("kitchen")
    assert store.query("SELECT COUNT(*) FROM timers") == [(0,)]
    store.close()


async def test_a_paused_timer_does_not_ring_and_resumes_with_what_was_left(tmp_path):
    store = Store(tmp_path / "hub.sqlite")
    rings = Rings()
    timers = TimerRegistry(rings, store)
    timer = timers.start("office", 1, "tea")
    await asyncio.sleep(0.3)
    paused = await timers.pause(timer)
    assert paused.paused and 0.5 < paused.remaining() < 0.8
    await asyncio.sleep(1.0)
    assert not rings.rung and timers.find("office", name="tea") == [paused]

    restored = TimerRegistry(rings, store)  # the pause is in the database too
    restored.restore()
    assert restored.running("office")[0].paused

    resumed = timers.resume(paused)
    assert not resumed.paused
    await asyncio.wait_for(rings.event.wait(), 2)
    assert [t.name for t in rings.rung] == ["tea"]
    await timers.close()
    await restored.close()
    store.close()
