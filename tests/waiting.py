"""Waiting on what another thread or process does: the sandbox's notifications, a server
coming up. Polls instead of sleeping a fixed time, so a fast machine is not slowed down."""

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests


def wait_for(predicate, timeout: float = 10.0, every: float = 0.05):
    """The predicate's first truthy value; AssertionError when none came in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("condition not met in time")


def replay_notification(*, url: str, genuine, times: int, workers: int) -> Counter:
    """A captured genuine notification POSTed `times` times at once: (status, body) counts."""
    headers = {
        k: v for k, v in genuine.headers.items() if k.lower().startswith(("x-sandbox", "content-type"))
    }

    def replay(_: int) -> tuple[int, str]:
        reply = requests.post(url, data=genuine.body, headers=headers, timeout=30)
        return reply.status_code, reply.text

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return Counter(pool.map(replay, range(times)))
