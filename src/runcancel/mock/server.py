"""Running the mock app on a real socket, in a background thread."""

from __future__ import annotations

import asyncio
import errno
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

import uvicorn

from runcancel.mock.app import MockApp, create_app
from runcancel.mock.config import MockConfig
from runcancel.mock.protocols import protocol_class, protocol_name

DEFAULT_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 5.0
_POLL_SECONDS = 0.005


class MockStartError(RuntimeError):
    """The mock server could not start; the message says why and what to do."""


class MockServer:
    """The mock app served by uvicorn on ``host:port`` in a daemon thread, as a context manager.

    ``port=0`` picks a free port; the port actually bound is read from the socket. Entering starts
    the server and returns once it accepts connections (or raises :class:`MockStartError` after
    ``start_timeout`` seconds); leaving stops it and joins the thread.
    """

    def __init__(
        self,
        config: MockConfig | None = None,
        port: int = 0,
        *,
        host: str = "127.0.0.1",
        start_timeout: float = DEFAULT_START_TIMEOUT,
        http: str = "auto",
    ) -> None:
        self.config = config or MockConfig()
        self.host = host
        self.requested_port = port
        self.start_timeout = start_timeout
        self.app: MockApp = create_app(self.config)
        self.protocol = protocol_class(self.config.header_timeout, http)
        self._port: int | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    @property
    def port(self) -> int:
        """The port the server is bound to."""
        if self._port is None:
            raise RuntimeError("MockServer is not running: enter it (or call start()) first")
        return self._port

    @property
    def url(self) -> str:
        """``http://host:port`` of the running server."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The API base the openai SDK expects: ``url`` + ``/v1``."""
        return f"{self.url}/v1"

    @property
    def http(self) -> str:
        """The HTTP implementation serving: ``httptools`` or ``h11``."""
        return protocol_name(self.protocol)

    @property
    def running(self) -> bool:
        """Whether the server thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Bind the socket, start uvicorn in a daemon thread and wait until it accepts connections."""
        if self._thread is not None:
            raise RuntimeError("MockServer is already running")
        sock = bind_socket(self.host, self.requested_port)
        self._port = sock.getsockname()[1]
        config = server_config(self.app, self.host, self._port, self.protocol, self.config.keep_alive)
        server = uvicorn.Server(config)
        self._server = server
        self._failure = None

        def serve() -> None:
            try:
                server.run(sockets=[sock])
            except BaseException as exc:  # reported by start(); a thread has no caller to raise to
                self._failure = exc
            finally:
                sock.close()

        self._thread = threading.Thread(target=serve, name=f"runcancel-mock-{self._port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self.start_timeout
        while not server.started:
            if not self._thread.is_alive():
                cause = self._failure or RuntimeError("the server thread ended during start-up")
                self._reset()
                raise MockStartError(
                    _start_message(self.host, self.requested_port, f"it stopped ({cause!r})")
                )
            if time.monotonic() >= deadline:
                self.stop()
                raise MockStartError(
                    _start_message(
                        self.host,
                        self.requested_port,
                        f"it did not accept connections within {self.start_timeout:g} s",
                    )
                )
            time.sleep(_POLL_SECONDS)

    def stop(self) -> None:
        """Ask uvicorn to shut down and join its thread (forcing the exit if it lingers)."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(_STOP_TIMEOUT)
        if thread.is_alive():
            server.force_exit = True
            thread.join(_STOP_TIMEOUT)
        self._reset()

    def wait(self, timeout: float | None = None) -> None:
        """Block until the server thread ends (or ``timeout`` passes)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _reset(self) -> None:
        self._server = None
        self._thread = None
        self._port = None


def server_config(
    app: Callable[..., Any], host: str, port: int, protocol: type[asyncio.Protocol], keep_alive: int
) -> uvicorn.Config:
    """uvicorn's settings for the mock (the benchmark serves its baseline route with the same)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol,
        loop="auto",  # uvloop where installed
        log_level="warning",
        lifespan="off",
        access_log=False,
        proxy_headers=False,  # the mock reads neither the client's address nor the scheme
        timeout_keep_alive=keep_alive,
        timeout_graceful_shutdown=2,
    )


def bind_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port``; :class:`MockStartError` with a clear cause if that fails."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError, OverflowError) as exc:
        raise MockStartError(
            _start_message(
                host,
                port,
                f"the host could not be resolved ({exc})",
                "Check the host name or address (127.0.0.1 serves this machine only).",
            )
        ) from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except (OSError, OverflowError) as exc:
        sock.close()
        raise MockStartError(_bind_message(host, port, exc)) from None
    return sock


def _bind_message(host: str, port: int, exc: BaseException) -> str:
    code = exc.errno if isinstance(exc, OSError) else None
    if code == errno.EADDRINUSE:
        return _start_message(
            host,
            port,
            f"the address is already in use ({exc})",
            "Stop the process that holds the port, or choose another port (0 picks a free one).",
        )
    if code == errno.EACCES:
        return _start_message(
            host,
            port,
            f"permission denied ({exc})",
            "Ports below 1024 need privileges: choose a port from 1024 up.",
        )
    if code == errno.EADDRNOTAVAIL:
        return _start_message(
            host,
            port,
            f"the address is not one of this machine's ({exc})",
            "Use 127.0.0.1, or an address of a local network interface.",
        )
    return _start_message(host, port, f"binding failed ({exc})")


def _start_message(host: str, port: int, cause: str, advice: str | None = None) -> str:
    advice = advice or "Check the host and port, or choose another port (0 picks a free one)."
    return f"cannot start the mock server on {host}:{port}: {cause}. {advice}"
