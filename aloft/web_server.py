"""The web server: gunicorn, with Aloft's answers to the requests gunicorn refuses on its own.

``aloft up`` runs ``python -P -m aloft.web_server --bind H:P --workers N``. It does not run
``gunicorn aloft.app:create_app()``: gunicorn's command line puts the working directory first
on ``sys.path`` and imports the app by name, so a folder called ``aloft/`` where someone typed
``aloft up`` was imported in Aloft's place and every worker crashed; it also reads a
``gunicorn.conf.py`` it finds there. Here the app is built by a call, and ``-P`` keeps the
working directory off ``sys.path``.

This module is also a gunicorn configuration module, so the distributed setup gets the same
behaviour with ``gunicorn -c python:aloft.web_server wsgi:app``:

* a request gunicorn refuses before Aloft sees it (a request line or a header over gunicorn's
  limit, a malformed request) is answered in the API's format, ``{"error": "<sentence>"}``,
  not with an HTML page;
* health and readiness probes that succeed stay out of the access log: whatever probes the
  server asks every few seconds;
* gunicorn's control socket is not created: gunicorn 25.1 and later put it in
  ``$XDG_RUNTIME_DIR`` or ``~/.gunicorn/``, one path for every gunicorn of the user, so
  stopping one server removed another's socket.
"""

from __future__ import annotations

import argparse
import json
import socket
from collections.abc import Sequence
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger
from gunicorn.workers.sync import SyncWorker

#: Paths a probe asks often; answered 2xx, they are not logged.
PROBE_PATHS = frozenset({"/api/v1/health", "/api/v1/ready"})


class ProbesUnlogged(Logger):
    """gunicorn's logger, without the access-log lines of probes that succeeded."""

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if getattr(req, "path", None) in PROBE_PATHS and str(resp.status).startswith("2"):
            return
        super().access(resp, req, environ, request_time)


class JsonErrorWorker(SyncWorker):
    """gunicorn's sync worker, whose own error answers are JSON in Aloft's format."""

    def handle_error(self, req: Any, client: socket.socket, addr: Any, exc: BaseException) -> None:
        # gunicorn decides the status, logs and writes the page; the page is rewritten on its way out.
        super().handle_error(req, JsonErrorPage(client, self.cfg, exc), addr, exc)


class JsonErrorPage:
    """Stands for the client's socket while gunicorn writes an error page, and sends JSON instead."""

    def __init__(self, client: socket.socket, cfg: Any, exc: BaseException) -> None:
        self._client = client
        self._cfg = cfg
        self._exc = exc

    def sendall(self, page: bytes) -> None:
        try:
            _, code, reason = page.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
            status = int(code)
        except ValueError:  # not the page this class knows: leave it as it is
            self._client.sendall(page)
            return
        body = json.dumps({"error": error_sentence(status, reason, self._exc, self._cfg)}).encode()
        head = (
            f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        self._client.sendall(head.encode("latin-1") + body)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def error_sentence(status: int, reason: str, exc: BaseException, cfg: Any) -> str:
    """What went wrong, for the person who sent the request."""
    if status == 414:
        return f"Request line too long (limit {cfg.limit_request_line} bytes): shorten the URL"
    if status == 431:
        return (
            f"Request headers too large (limit {cfg.limit_request_fields} headers "
            f"of {cfg.limit_request_field_size} bytes each)"
        )
    if status >= 500:
        return "Internal server error"
    return f"{reason}: {exc}" if str(exc) else reason


# gunicorn settings, by their names in a configuration module.
worker_class = JsonErrorWorker
logger_class = ProbesUnlogged
accesslog = "-"
control_socket_disable = True  # gunicorn < 25.1 has no control socket and ignores the name
graceful_timeout = 10


class WebServer(BaseApplication):
    """gunicorn serving :func:`aloft.app.create_app`, with this module's settings."""

    def __init__(self, bind: str, workers: int) -> None:
        self.bind = bind
        self.workers = workers
        super().__init__()

    def load_config(self) -> None:
        settings = {
            "worker_class": worker_class,
            "logger_class": logger_class,
            "accesslog": accesslog,
            "control_socket_disable": control_socket_disable,
            "graceful_timeout": graceful_timeout,
            "bind": [self.bind],
            "workers": self.workers,
        }
        for name, value in settings.items():
            if name in self.cfg.settings:
                self.cfg.set(name, value)

    def load(self) -> Flask:
        from aloft.app import create_app

        return create_app()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m aloft.web_server", description="Serve Aloft with gunicorn.")
    parser.add_argument("--bind", required=True, help="HOST:PORT to listen on")
    parser.add_argument("--workers", type=int, required=True, help="worker processes")
    arguments = parser.parse_args(argv)
    WebServer(arguments.bind, arguments.workers).run()


if __name__ == "__main__":
    main()
