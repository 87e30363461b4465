"""Assessments are served from a cache refreshed in the background: a page never waits for a
re-evaluation once a value exists, concurrent misses compute once, and the server assesses the
dashboard's default period as soon as it starts."""

from __future__ import annotations

import threading
import time

from edgeaudit.pack.period import Period
from edgeaudit.serve.caches import Cache
from edgeaudit.serve.setup import make_service
from tests.serve.conftest import Site, settings


def test_stale_value_served_at_once_while_a_refresh_runs(site: Site) -> None:
    # A value lives 1 s (a loaded machine may pause the test a good part of that between two
    # calls); the refresh blocks until released (60 s), so "at once" is told from "waited"
    # by seconds, not by a wall-clock threshold a loaded machine can miss.
    svc = make_service(site.config, settings(site, cache_seconds=1.0))
    try:
        calls: list[int] = []
        release = threading.Event()

        def compute() -> int:
            calls.append(1)
            if len(calls) > 1:
                release.wait(60)  # the refresh is slow
            return len(calls)

        assert svc.cached(("k",), compute) == 1
        assert svc.cached(("k",), compute) == 1  # fresh: reused
        assert len(calls) == 1
        time.sleep(1.05)
        began = time.monotonic()
        assert svc.cached(("k",), compute) == 1  # expired: the old value, at once
        assert time.monotonic() - began < 30
        assert svc.cached(("k",), compute) == 1  # a refresh is already running: not a second
        release.set()
        deadline = time.monotonic() + 60
        while svc.cached(("k",), compute) != 2:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert len(calls) == 2
    finally:
        svc.close()


def test_concurrent_misses_compute_once(site: Site) -> None:
    svc = make_service(site.config, settings(site, cache_seconds=60))
    try:
        calls: list[int] = []

        def compute() -> str:
            calls.append(1)
            time.sleep(0.3)
            return "value"

        out: list[str] = []
        threads = [
            threading.Thread(target=lambda: out.append(svc.cached(("m",), compute)))
            for _ in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert out == ["value"] * 4
        assert len(calls) == 1
    finally:
        svc.close()


def test_warm_up_assesses_the_period_in_the_background(site: Site) -> None:
    svc = make_service(site.config, settings(site, cache_seconds=60))
    try:
        period = Period.quarter("2026Q3")
        also: list[str] = []
        thread = svc.warm_up(period, also=lambda: also.append("heat-map"))
        assert thread is not None
        thread.join(120)
        assert also == ["heat-map"]
        key = ("assessment", None, period.start, period.end, None)

        def evaluated_again() -> object:
            raise AssertionError("the warm-up did not leave the assessment in the cache")

        doc = svc.cached(key, evaluated_again)
        assert svc._site_assessment(period, None) is doc  # what a page is served: the cached one
        assert doc["assessment"]["from"] == period.start_text
        assert doc["results"]
    finally:
        svc.close()


def test_no_cache_means_no_warm_up_and_fresh_values(site: Site) -> None:
    svc = make_service(site.config, settings(site, cache_seconds=0))
    try:
        assert svc.warm_up(Period.quarter("2026Q3")) is None
        n = iter(range(10))
        assert svc.cached(("z",), lambda: next(n)) == 0
        assert svc.cached(("z",), lambda: next(n)) == 1
    finally:
        svc.close()


class _HandOff:
    """A lock that, when the first thread to hold it lets it go, waits there until a second
    thread has taken and released it: the interleaving a loaded machine can produce between a
    thread's look into the cache and its next step, made certain."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.first_out = threading.Event()
        self.second_out = threading.Event()
        self._first: int | None = None

    def __enter__(self) -> None:
        self._lock.acquire()
        if self._first is None:
            self._first = threading.get_ident()

    def __exit__(self, *exc: object) -> None:
        me = threading.get_ident()
        self._lock.release()
        if me != self._first:
            self.second_out.set()
        elif not self.first_out.is_set():
            self.first_out.set()
            assert self.second_out.wait(10), "the second thread never took the lock"


def test_a_miss_is_claimed_under_the_lock_it_was_seen_under() -> None:
    cache = Cache(60)
    hand_off = _HandOff()
    cache._lock = hand_off  # type: ignore[assignment]
    calls: list[str] = []
    out: dict[str, object] = {}

    def compute() -> str:
        calls.append(threading.current_thread().name)
        return "value"

    def get(name: str) -> None:
        out[name] = cache.get(("m",), compute)

    first = threading.Thread(target=get, args=("first",), name="first")
    first.start()
    assert hand_off.first_out.wait(10)
    second = threading.Thread(target=get, args=("second",), name="second")
    second.start()
    first.join(10)
    second.join(10)
    assert out == {"first": "value", "second": "value"}
    assert calls == ["first"]  # the second miss waited for the first one's computation
