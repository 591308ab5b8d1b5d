"""The sticky proxy of `densescope serve-class`: a browser stays on one app process, upgrades pass."""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest

from core.cli.serve import COOKIE, StickyProxy, cookie_backend, with_cookie


def test_cookie_backend_reads_only_a_valid_index():
    head = b"GET / HTTP/1.1\r\nHost: x\r\nCookie: a=1; densescope_backend=1; b=2\r\n\r\n"
    assert cookie_backend(head, 2) == 1
    assert cookie_backend(head, 1) is None  # names a backend that is not there
    assert cookie_backend(b"GET / HTTP/1.1\r\ncookie: densescope_backend=x\r\n\r\n", 2) is None
    assert cookie_backend(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 2) is None


def test_with_cookie_adds_one_header_before_the_blank_line():
    out = with_cookie(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 3)
    assert out == (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
                   b"Set-Cookie: densescope_backend=3; Path=/; SameSite=Lax; HttpOnly\r\n\r\n")


async def _backend(name: bytes, port_box: list, ready: threading.Event):
    async def handle(r, w):
        head = await r.readuntil(b"\r\n\r\n")
        if b"upgrade: websocket" in head.lower():  # answer 101, then echo what comes, prefixed
            w.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
            await w.drain()
            while data := await r.read(100):
                w.write(name + b":" + data)
                await w.drain()
        else:
            body = name
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
            await w.drain()
        w.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port_box.append(server.sockets[0].getsockname()[1])
    ready.set()
    async with server:
        await server.serve_forever()


@pytest.fixture
def proxy():
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    ports: list[int] = []
    running = []
    for name in (b"app0", b"app1"):
        ready = threading.Event()
        running.append(asyncio.run_coroutine_threadsafe(_backend(name, ports, ready), loop))
        assert ready.wait(10)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sticky = StickyProxy([("127.0.0.1", p) for p in ports])
    started = asyncio.Event()
    running.append(asyncio.run_coroutine_threadsafe(sticky.serve("127.0.0.1", port, started), loop))
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            threading.Event().wait(0.02)
    yield port, sticky
    for future in running:
        future.cancel()
    threading.Event().wait(0.2)  # let the cancellations run
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def _exchange(port: int, request: bytes, then: bytes = b"") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(request)
        if then:
            head = b""
            while b"\r\n\r\n" not in head:
                head += s.recv(1000)
            s.sendall(then)
            return head + s.recv(1000)
        out = b""
        while chunk := s.recv(1000):
            out += chunk
        return out


def test_a_new_browser_is_given_a_backend_in_turn_and_a_cookie_that_keeps_it(proxy):
    port, sticky = proxy
    first = _exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    second = _exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert first.endswith(b"app0") and f"Set-Cookie: {COOKIE}=0;".encode() in first
    assert second.endswith(b"app1") and f"Set-Cookie: {COOKIE}=1;".encode() in second
    for _ in range(3):  # a browser with its cookie always reaches the same process, and no new cookie
        again = _exchange(port, f"GET /x HTTP/1.1\r\nCookie: {COOKIE}=1\r\n\r\n".encode())
        assert again.endswith(b"app1") and b"Set-Cookie" not in again
    assert sticky.connections == [1, 4]


def test_a_websocket_upgrade_goes_to_the_pinned_backend_and_bytes_pass_both_ways(proxy):
    port, _ = proxy
    request = (f"GET /_stcore/stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Cookie: {COOKIE}=0\r\n\r\n").encode()
    out = _exchange(port, request, then=b"hello")
    assert out.startswith(b"HTTP/1.1 101") and out.endswith(b"app0:hello")
