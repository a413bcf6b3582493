"""A local slow-loris file host for the abuse tests and bench/abuse_fetch.py: every GET is answered with
headers promising a large PNG, then one byte every `interval` seconds — each read arrives well within any
per-read timeout, so only a total deadline ends the download. `/fast...` paths answer a small PNG at once.

Runs its own event loop in a thread (many open connections are cheap); bounded: a drip ends after
`max_seconds`, and close() ends them all."""

from __future__ import annotations

import asyncio
import threading

from runapi.providers.sandbox import samples

PNG = samples.sample_bytes("png")


class DripServer:
    def __init__(self, interval: float = 0.2, max_seconds: float = 30.0):
        self.interval = interval
        self.max_seconds = max_seconds
        self.open = 0  # connections being dripped to right now
        self.served = 0  # requests seen
        self._loop = asyncio.new_event_loop()
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task] = set()
        started = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(started,), daemon=True)
        self._thread.start()
        started.wait(10)
        self.url = f"http://127.0.0.1:{self.port}"

    def _run(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)

        async def boot() -> None:
            self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, backlog=1024)
            self.port = self._server.sockets[0].getsockname()[1]
            started.set()

        self._loop.run_until_complete(boot())
        self._loop.run_forever()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        me = asyncio.current_task()
        self._handlers.add(me)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            self.served += 1
            path = head.split(b" ", 2)[1]
            if path.startswith(b"/fast"):
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nConnection: close\r\n"
                    b"Content-Length: %d\r\n\r\n" % len(PNG) + PNG
                )
                await writer.drain()
                return
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 10000000\r\n\r\n")
            self.open += 1
            try:
                body = PNG * 1000
                loop = asyncio.get_running_loop()
                end = loop.time() + self.max_seconds
                i = 0
                while loop.time() < end:
                    writer.write(body[i : i + 1])
                    await writer.drain()
                    i += 1
                    await asyncio.sleep(self.interval)
            finally:
                self.open -= 1
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.CancelledError):
            pass
        finally:
            self._handlers.discard(me)
            self._writers.discard(writer)
            writer.close()

    def close(self) -> None:
        async def shut() -> None:
            self._server.close()
            for w in list(self._writers):
                w.close()
            handlers = list(self._handlers)
            for t in handlers:
                t.cancel()
            await asyncio.gather(*handlers, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shut(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
