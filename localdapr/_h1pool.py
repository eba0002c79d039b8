"""A lean keep-alive HTTP/1.1 client for the app channel: asyncio protocol + httptools parser.

Measured on this machine, aiohttp's client spends ~350 µs of CPU per request, more than the
whole sidecar's own work on an actor call; this pool needs a fraction of that. It only speaks
to the one app over plain HTTP/1.1 on loopback, which is all the app channel needs: no TLS,
proxies, redirects, cookies or decompression. HEAD is left to the caller (AppChannel uses
aiohttp for it): a HEAD response announces a body it does not send.
"""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import httptools

_SAFE_PATH = "/:@!$&'()*+,;=?#[]%~-._"


class ConnectionDropped(ConnectionError):
    """The connection ended before a complete response; `fresh` is False if it was reused."""

    def __init__(self, message: str, *, got_bytes: bool) -> None:
        super().__init__(message)
        self.got_bytes = got_bytes


class _Conn(asyncio.Protocol):
    """One connection; one request at a time; parser callbacks fill the current response."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.waiter: asyncio.Future[None] | None = None
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}
        self.chunks: list[bytes] = []
        self.got_bytes = False
        self.headers_done = False

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.got_bytes = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._finish(ConnectionDropped(f"bad HTTP from app: {exc}", got_bytes=True))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.headers_done and self._body_until_eof():
            self._finish(None)
            return
        message = f"app closed the connection: {exc!r}"
        self._finish(ConnectionDropped(message, got_bytes=self.got_bytes))

    def _body_until_eof(self) -> bool:
        """A response with neither Content-Length nor chunking ends when the connection does."""
        return "content-length" not in self.headers and "transfer-encoding" not in self.headers

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        if not self.parser.should_keep_alive():
            self.close()
        self._finish(None)

    def _finish(self, exc: Exception | None) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            if exc is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(exc)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    async def exchange(self, request: bytes) -> tuple[int, dict[str, str], bytes]:
        if self.transport is None or self.closed:
            raise ConnectionDropped("connection is closed", got_bytes=False)
        self._reset()
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        await self.waiter
        return self.status, self.headers, b"".join(self.chunks)


class H1Pool:
    """Keep-alive connections to one host:port, reused last-in first-out."""

    def __init__(self, host: str, port: int, *, limit: int = 256) -> None:
        self._host, self._port = host, port
        self._authority = f"{host}:{port}".encode()
        self._idle: list[_Conn] = []
        self._slots = asyncio.Semaphore(limit)

    def encode(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
        lines = [f"{method} {quote(path, safe=_SAFE_PATH)} HTTP/1.1".encode()]
        lines.append(b"Host: " + self._authority)
        lines.append(b"Content-Length: " + str(len(body)).encode())
        for name, value in headers.items():
            if name.lower() not in ("host", "content-length", "transfer-encoding", "connection"):
                lines.append(f"{name}: {value}".encode("latin-1", "replace"))
        return b"\r\n".join(lines) + b"\r\n\r\n" + body

    async def request(
        self, method: str, path: str, body: bytes, headers: dict[str, str], timeout: float
    ) -> tuple[int, dict[str, str], bytes]:
        """One exchange; a reused connection that died idle is retried once on a new one."""
        raw = self.encode(method, path, body, headers)
        async with self._slots:
            while self._idle:
                conn = self._idle.pop()
                if conn.closed:
                    continue
                try:
                    return await self._exchange(conn, raw, timeout)
                except ConnectionDropped as exc:
                    if exc.got_bytes:
                        raise
                    break  # stale keep-alive connection: try once on a fresh one
            loop = asyncio.get_running_loop()
            async with asyncio.timeout(timeout):
                _, conn = await loop.create_connection(_Conn, self._host, self._port)
            return await self._exchange(conn, raw, timeout)

    async def _exchange(
        self, conn: _Conn, raw: bytes, timeout: float
    ) -> tuple[int, dict[str, str], bytes]:
        try:
            async with asyncio.timeout(timeout):
                result = await conn.exchange(raw)
        except BaseException:
            conn.close()
            raise
        if not conn.closed:
            self._idle.append(conn)
        return result

    def close(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()
