"""A local moto server for tests: AWS API calls that never leave the machine."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import requests
from moto.server import ThreadedMotoServer


@contextmanager
def moto_server() -> Iterator[str]:
    """Start a moto server on 127.0.0.1 (a free port) and yield its URL.

    Every server in one process shares moto's state, so each starts from none, whatever ran before.
    """
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    requests.post(f"{url}/moto-api/reset", timeout=10)
    try:
        yield url
    finally:
        threading.Thread(target=server.stop, daemon=True).start()  # werkzeug waits out a 0.5 s poll
