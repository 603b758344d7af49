"""Which remote replica serves a request: session affinity, then the least busy one.

Why these choices:
- Session affinity: every round of one VTC request re-sends the earlier pages; only the replica
  that served the previous round has them in its prefix and encoder caches.
- New sessions go to the replica with the fewest requests in flight (ties rotate).
- A replica that failed (or failed its health probe) is kept off new sessions for
  `down_for_s`; when every candidate is down, the down ones are tried anyway (better a likely
  failure than a certain one).
- Sessions are forgotten when idle past their TTL, and the oldest idle ones past a size cap, so
  the table stays bounded whatever the clients do. A session with a request in flight is kept.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from server.engines.base import EngineError


@dataclass
class Replica:
    url: str
    in_flight: int = 0
    down_until: float = 0.0
    failures: int = 0

    def is_down(self, now: float) -> bool:
        return now < self.down_until


@dataclass
class Session:
    replica: Replica
    last_used: float
    active: int = 0


class Router:
    """The replicas, their load and health, and the session -> replica table."""

    def __init__(
        self,
        urls: Sequence[str],
        *,
        session_ttl_s: float = 900.0,
        max_sessions: int = 100_000,
        down_for_s: float = 10.0,
    ) -> None:
        if not urls:
            raise ValueError("the openai engine needs at least one backend URL")
        self.replicas = [Replica(url.rstrip("/")) for url in urls]
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._session_ttl_s = session_ttl_s
        self._max_sessions = max_sessions
        self._down_for_s = down_for_s
        self._rotation = itertools.count()

    def pick(self, session_id: str | None, exclude: AbstractSet[str] = frozenset()) -> Replica:
        """The session's replica if it has one and it may be used, else the least-busy one."""
        now = time.monotonic()
        self._prune(now)
        if session_id is not None and (sess := self._sessions.get(session_id)) is not None:
            r = sess.replica
            if r.url not in exclude and not r.is_down(now):
                return r
        candidates = [r for r in self.replicas if r.url not in exclude]
        if not candidates:
            raise EngineError("no replica left to try", retryable=True)
        up = [r for r in candidates if not r.is_down(now)] or candidates
        least = min(r.in_flight for r in up)
        tied = [r for r in up if r.in_flight == least]
        return tied[next(self._rotation) % len(tied)]

    def session_replica(self, session_id: str) -> str | None:
        sess = self._sessions.get(session_id)
        return sess.replica.url if sess else None

    @contextlib.contextmanager
    def occupy(self, replica: Replica, session_id: str | None) -> Iterator[None]:
        """Count one request in flight on `replica` (and bind the session to it) meanwhile."""
        sess = self._bind(session_id, replica)
        replica.in_flight += 1
        if sess:
            sess.active += 1
        try:
            yield
        finally:
            replica.in_flight -= 1
            if sess:
                sess.active -= 1
                sess.last_used = time.monotonic()

    def failed(self, replica: Replica) -> None:
        replica.failures += 1
        self.set_health(replica, ok=False)

    def succeeded(self, replica: Replica) -> None:
        replica.failures = 0

    def set_health(self, replica: Replica, *, ok: bool) -> None:
        replica.down_until = 0.0 if ok else time.monotonic() + self._down_for_s

    def _bind(self, session_id: str | None, replica: Replica) -> Session | None:
        if session_id is None:
            return None
        now = time.monotonic()
        sess = self._sessions.get(session_id)
        if sess is None:
            sess = Session(replica, now)
            self._sessions[session_id] = sess
        sess.replica = replica
        sess.last_used = now
        self._sessions.move_to_end(session_id)
        return sess

    def _prune(self, now: float) -> None:
        """Forget idle sessions past their TTL, and the oldest idle ones past the size cap."""
        while self._sessions:
            key, sess = next(iter(self._sessions.items()))
            expired = now - sess.last_used > self._session_ttl_s
            if sess.active == 0 and (expired or len(self._sessions) > self._max_sessions):
                del self._sessions[key]
            else:
                break
