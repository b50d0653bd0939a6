"""gunicorn, run with the request limits of the Procfile, lets over-long request lines and
headers through to Django, which answers them with the API's JSON error body."""

import http.client
import json
import os
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from paycenter.middleware import MAX_HEADER_VALUE, MAX_REQUEST_TARGET

ROOT = Path(__file__).resolve().parents[2]


def procfile_limits() -> list[str]:
    web = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:"))
    words = shlex.split(web.removeprefix("web:"))
    limits = []
    for index, word in enumerate(words):
        if word.startswith("--limit-request"):
            limits += [word, words[index + 1]]
    return limits


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = free_port()
    gunicorn = Path(sys.executable).with_name("gunicorn")
    command = [str(gunicorn), "paycenter.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"]
    proc = subprocess.Popen(
        command + procfile_limits(), cwd=ROOT, env=os.environ.copy(), stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def get(port: int, path: str, headers: dict | None = None) -> tuple[int, str, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        connection.close()


def test_the_procfile_sets_gunicorns_limits_above_djangos():
    limits = dict(zip(procfile_limits()[::2], procfile_limits()[1::2], strict=True))
    assert int(limits["--limit-request-line"]) > MAX_REQUEST_TARGET + len("GET  HTTP/1.1")
    assert int(limits["--limit-request-field_size"]) > MAX_HEADER_VALUE + len("X-Some-Header: ")


def test_an_over_long_request_line_gets_the_json_body_not_gunicorns_page(server):
    # given a request target past Django's limit and below gunicorn's
    path = "/api/v1/payments?out_trade_no=" + "x" * (MAX_REQUEST_TARGET + 500)
    status, content_type, body = get(server, path)
    # then Django answers with the API's error
    assert (status, content_type) == (414, "application/json"), body[:200]
    assert json.loads(body)["error"]["code"] == "uri_too_long"


def test_an_over_long_header_gets_the_json_body_not_gunicorns_page(server):
    status, content_type, body = get(server, "/api/v1/payments", {"X-Junk": "j" * (MAX_HEADER_VALUE + 2000)})
    assert (status, content_type) == (431, "application/json"), body[:200]
    assert json.loads(body)["error"] == {
        "code": "header_too_large",
        "message": f"A header value has at most {MAX_HEADER_VALUE} characters.",
        "field": "X-Junk",
    }
