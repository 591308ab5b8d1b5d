"""`serve-class`: several app processes behind one sticky proxy, all on one DENSESCOPE_HOME.

A Streamlit session lives in the process that holds its websocket; its uploads and media files
(downloads) are served by that same process. So every request of one browser must reach the same
process: the proxy pins a browser to a process with a cookie (``densescope_backend``), set on the
first response to a browser that has none (processes taken in turn), and then pipes the connection's
bytes both ways, websocket upgrades included. The processes share the artifact cache and the run
store of one DENSESCOPE_HOME (SQLite in WAL mode; artifacts written atomically), and one cookie
secret, so they trust each other's XSRF cookies. docs/SCALING.md has the measured cost per view,
how many processes a class needs, and an nginx configuration doing the same for production.

    python -m core serve-class --processes 4 --port 8501 [--host 0.0.0.0]     (or: make serve-class N=4)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from core.cli.common import UserError, command

COOKIE = "densescope_backend"
_COOKIE_RE = re.compile(rb"^cookie:(.*)$", re.IGNORECASE | re.MULTILINE)
#: The largest request or response head the proxy reads before it starts piping.
MAX_HEAD = 64 * 1024
CHUNK = 64 * 1024


def cookie_backend(head: bytes, n_backends: int) -> int | None:
    """The backend a request's ``densescope_backend`` cookie names, or None (absent or not valid)."""
    for line in _COOKIE_RE.findall(head):
        for part in line.decode("latin-1").split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE and value.isdigit() and int(value) < n_backends:
                return int(value)
    return None


def with_cookie(response_head: bytes, backend: int) -> bytes:
    """A response head (ending in a blank line) with the cookie that pins the browser to ``backend``."""
    line = f"Set-Cookie: {COOKIE}={backend}; Path=/; SameSite=Lax; HttpOnly\r\n".encode()
    return response_head[:-2] + line + b"\r\n"


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


class StickyProxy:
    """A TCP proxy that reads each connection's first request head, picks the browser's backend
    (its cookie, else the next in turn, then set in a cookie) and pipes bytes both ways."""

    def __init__(self, backends: list[tuple[str, int]]) -> None:
        if not backends:
            raise ValueError("the proxy needs at least one backend")
        self.backends = backends
        self._turn = itertools.cycle(range(len(backends)))
        #: Connections sent to each backend so far (for the start-up message and tests).
        self.connections = [0] * len(backends)

    def choose(self, head: bytes) -> tuple[int, bool]:
        """``(backend, new)``: the cookie's backend, or the next in turn with ``new`` True."""
        pinned = cookie_backend(head, len(self.backends))
        return (pinned, False) if pinned is not None else (next(self._turn), True)

    async def handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            head = await client_r.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            client_w.close()
            return
        backend, new = self.choose(head)
        self.connections[backend] += 1
        try:
            server_r, server_w = await asyncio.open_connection(*self.backends[backend], limit=MAX_HEAD)
        except OSError:
            client_w.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            client_w.close()
            return
        server_w.write(head)
        up = asyncio.create_task(_pipe(client_r, server_w))
        if new:
            try:
                response = await server_r.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                response = b""
            client_w.write(with_cookie(response, backend) if response else b"")
        await _pipe(server_r, client_w)
        up.cancel()
        with contextlib.suppress(Exception):
            server_w.close()

    async def serve(self, host: str, port: int, started: asyncio.Event | None = None) -> None:
        server = await asyncio.start_server(self.handle, host, port, limit=MAX_HEAD)
        if started is not None:
            started.set()
        async with server:
            await server.serve_forever()


# ------------------------------------------------------------------ the app processes


def app_command(port: int) -> list[str]:
    app = Path(__file__).resolve().parents[2] / "app.py"
    return [sys.executable, "-m", "streamlit", "run", str(app), "--server.headless", "true", "--server.port", str(port),
            "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]


def wait_healthy(port: int, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            raise UserError(f"the app process on port {port} exited with status {proc.returncode}")
        with contextlib.suppress(OSError), urllib.request.urlopen(
                f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
            if r.status == 200:
                return
        time.sleep(0.3)
    raise UserError(f"the app process on port {port} did not answer within {timeout:.0f} s")


def _serve_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                   help="app processes (default: one per core)")
    p.add_argument("--port", type=int, default=8501, help="the port the class opens (the proxy's)")
    p.add_argument("--host", default="127.0.0.1", help="the proxy's address; 0.0.0.0 serves the network")
    p.add_argument("--first-app-port", type=int, default=None,
                   help="the app processes listen on 127.0.0.1 from this port up (default: --port + 1)")


@command("serve-class", "serve the app from several processes behind one sticky proxy (a class at once)", _serve_args)
def cmd_serve_class(args: argparse.Namespace) -> int:
    if not 1 <= args.processes <= 64:
        raise UserError(f"--processes must be between 1 and 64, got {args.processes}")
    first = args.first_app_port or args.port + 1
    ports = list(range(first, first + args.processes))
    if args.port in ports:
        raise UserError("--first-app-port must leave --port to the proxy")
    secret = secrets.token_hex(32)  # one cookie secret: every process accepts the others' XSRF cookies
    # Streamlit takes its cookie secret from the environment only (not from a command-line flag)
    env = {**os.environ, "STREAMLIT_SERVER_COOKIE_SECRET": secret}
    procs = [subprocess.Popen(app_command(p), env=env, start_new_session=True) for p in ports]
    try:
        for port, proc in zip(ports, procs, strict=True):
            wait_healthy(port, proc)
        print(f"densescope: {args.processes} app processes on 127.0.0.1:{ports[0]}-{ports[-1]}, one home "
              f"({os.environ.get('DENSESCOPE_HOME', '~/.cache/densescope')}); the class opens "
              f"http://{args.host}:{args.port}", flush=True)
        proxy = StickyProxy([("127.0.0.1", p) for p in ports])
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(proxy.serve(args.host, args.port))
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
    return 0
