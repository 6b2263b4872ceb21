"""A pool of model servers on other machines: who is healthy, who is least busy, who is out and until when.

Invariants:

- A request goes to the healthy server with the fewest requests in flight (ties: the one that has
  served fewest, so an idle pool takes turns).
- A server that fails a request (refused, reset, timed out, closed mid-answer) is taken out at once
  and tried again after a backoff (``backoff_s`` doubling up to ``backoff_max_s``); the health task
  asks it (``probe``, e.g. Wyoming ``describe``) when its backoff is over and brings it back when it
  answers. Healthy servers are probed every ``check_every_s`` so one that died while idle is
  noticed before a person waits for it.
- The pool never blocks the event loop and owns no task: :meth:`ServerPool.run` is run by whoever
  owns the pool (the hub spawns it; a test runs it in a task group).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

_LOGGER = logging.getLogger(__name__)

_Address = TypeVar("_Address")


@dataclass
class Server(Generic[_Address]):
    """One server of a pool and what the pool knows about it."""

    uri: str
    address: _Address
    healthy: bool = True
    """Optimistic at start: the first health check (at once) or the first request tells."""
    busy: int = 0
    """Requests in flight now."""
    served: int = 0
    failures: int = 0
    """Failures in a row (decides the backoff)."""
    retry_at: float = 0.0
    """Monotonic time before which an out server is not probed."""
    checked_at: float = 0.0
    model: str = ""
    """What the server says it runs (from its describe), for hub/state."""
    last_error: str = ""
    failed_total: int = field(default=0)


class ServerPool(Generic[_Address]):
    def __init__(self, kind: str, servers: list[tuple[str, _Address]],
                 probe: Callable[[_Address], Awaitable[str]] | None = None, *,
                 check_every_s: float = 10.0, backoff_s: float = 1.0, backoff_max_s: float = 30.0,
                 probe_timeout_s: float = 3.0) -> None:
        if not servers:
            raise ValueError(f"a {kind} pool needs at least one server")
        self.kind = kind
        self.servers = [Server(uri, address) for uri, address in servers]
        self._probe = probe
        self._check_every_s = check_every_s
        self._backoff_s = backoff_s
        self._backoff_max_s = backoff_max_s
        self._probe_timeout_s = probe_timeout_s
        self._changed = asyncio.Event()

    # -- choosing ----------------------------------------------------------------------
    def pick(self, exclude: set[str] | frozenset[str] = frozenset()) -> Server[_Address] | None:
        """The healthy server with the fewest requests in flight, not in ``exclude`` (uris); None if none."""
        ready = [s for s in self.servers if s.healthy and s.uri not in exclude]
        if not ready:
            return None
        return min(ready, key=lambda s: (s.busy, s.served))

    @contextlib.contextmanager
    def using(self, server: Server[_Address]) -> Iterator[Server[_Address]]:
        """Count a request in flight on ``server`` for as long as the block runs."""
        server.busy += 1
        try:
            yield server
        finally:
            server.busy -= 1

    @property
    def in_flight(self) -> int:
        return sum(s.busy for s in self.servers)

    @property
    def healthy_count(self) -> int:
        return sum(1 for s in self.servers if s.healthy)

    def model_name(self) -> str:
        return next((s.model for s in self.servers if s.model), "")

    # -- outcomes ----------------------------------------------------------------------
    def succeeded(self, server: Server[_Address]) -> None:
        server.served += 1
        if server.failures or not server.healthy:
            _LOGGER.info("%s server %s is back", self.kind, server.uri)
        server.failures = 0
        server.healthy = True

    def failed(self, server: Server[_Address], error: BaseException | str) -> None:
        """Take ``server`` out; it is probed again after its backoff."""
        server.failed_total += 1
        server.failures += 1
        delay = min(self._backoff_s * 2 ** (server.failures - 1), self._backoff_max_s)
        server.retry_at = time.monotonic() + delay
        server.last_error = str(error) or type(error).__name__ if not isinstance(error, str) else error
        if server.healthy:
            _LOGGER.warning("%s server %s failed (%s): out, probed again in %.1f s",
                            self.kind, server.uri, server.last_error, delay)
        server.healthy = False
        self._changed.set()

    # -- health --------------------------------------------------------------------------
    async def check(self, server: Server[_Address]) -> bool:
        """Probe one server now; True if it answered."""
        if self._probe is None:
            server.healthy = True  # nothing to ask: its backoff is over, the next request tells
            return True
        server.checked_at = time.monotonic()
        try:
            server.model = await asyncio.wait_for(self._probe(server.address), self._probe_timeout_s) or server.model
        except asyncio.CancelledError:
            raise
        except Exception as err:  # refused, reset, timed out, garbage: all mean "not usable now"
            self.failed(server, err if str(err) else f"{type(err).__name__}")
            return False
        if not server.healthy:
            _LOGGER.info("%s server %s answers again: back in the pool", self.kind, server.uri)
        server.healthy = True
        server.failures = 0
        return True

    async def run(self) -> None:
        """Health checks for ever: every server at once, then each when it is due."""
        await asyncio.gather(*(self.check(s) for s in self.servers))
        while True:
            now = time.monotonic()
            due = [s for s in self.servers
                   if (not s.healthy and now >= s.retry_at)
                   or (s.healthy and s.busy == 0 and now - s.checked_at >= self._check_every_s)]
            if due:
                await asyncio.gather(*(self.check(s) for s in due))
                continue
            wake = [s.retry_at for s in self.servers if not s.healthy]
            wake += [s.checked_at + self._check_every_s for s in self.servers if s.healthy]
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), max(0.05, min(wake) - time.monotonic()))

    def describe(self) -> str:
        """``2/3 up`` with each server's state, for logs and hub/state."""
        parts = [f"{s.uri} {'up' if s.healthy else 'out'}" for s in self.servers]
        return f"{self.healthy_count}/{len(self.servers)} up ({', '.join(parts)})"


def parse_tcp(uri: str) -> tuple[str, int]:
    """``tcp://host:port`` -> (host, port); ValueError naming the uri otherwise."""
    if not uri.startswith("tcp://"):
        raise ValueError(f"a Wyoming server is tcp://host:port, got {uri!r}")
    host, sep, port = uri[len("tcp://"):].rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"a Wyoming server is tcp://host:port, got {uri!r}")
    return host.strip("[]"), int(port)
