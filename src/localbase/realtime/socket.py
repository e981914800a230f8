"""Socket stage: the Phoenix channels protocol over one WebSocket.

Framing as the clients speak it: `vsn=1.0.0` frames are JSON objects
`{"topic", "event", "payload", "ref", "join_ref"}`; `vsn=2.0.0` frames are JSON arrays
`[join_ref, ref, topic, event, payload]`, and their clients send a broadcast as a binary "user
broadcast push" frame (decoded below; a JSON or a binary payload), and receive a binary payload
as a binary "user broadcast" frame (broadcast.py). Topic `phoenix` carries heartbeats.

Every outgoing frame goes through one bounded queue per socket, written by one writer task, so a
slow or dead client never blocks the fan-out or other clients: when its queue is full the socket
is closed with 1013 ("try again later"); its postgres_changes subscriptions keep their position
and a reconnecting client gets what it missed (retention.py). Counted in the service's stats.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect

from localbase.realtime import broadcast, channels

if TYPE_CHECKING:
    from localbase.realtime.service import Realtime

log = logging.getLogger("localbase.realtime")

PHOENIX = "phoenix"
CLOSE_SLOW_CONSUMER = 1013
CLOSE_IDLE = 1000
USER_BROADCAST_PUSH = 3
BINARY_ENCODING = 0
JSON_ENCODING = 1


class Connection:
    def __init__(self, ws: WebSocket, service: Realtime):
        self.ws = ws
        self.service = service
        params = ws.query_params
        self.vsn = params.get("vsn", "1.0.0")
        self.binary_frames = self.vsn.startswith("2")  # may receive binary broadcast frames
        state = ws.scope.get("state", {})
        # the JWT standing for the socket's API key (an opaque sb_ key's role JWT), from the gateway
        self.apikey = state.get("apikey_token") or params.get("apikey") or ws.headers.get("apikey") or ""
        self.apikey_role = state.get("apikey_role", "anon")
        self.channels: dict[str, channels.Channel] = {}
        self.queue: asyncio.Queue[tuple[str | bytes, Any, Any] | None] = asyncio.Queue(service.config.max_queue)
        self.closing = False
        self.close_code = 1000
        self.last_seen = time.monotonic()

    # -- framing -------------------------------------------------------------------------------
    def frame(self, topic: str, event: str, payload: Any, ref: str | None = None,
              join_ref: str | None = None) -> str:
        if self.vsn.startswith("2"):
            return orjson.dumps([join_ref, ref, topic, event, payload]).decode()
        return orjson.dumps({"event": event, "payload": payload, "ref": ref, "topic": topic,
                             "join_ref": join_ref}).decode()

    def frame_raw(self, topic_json: bytes, event: bytes, payload: bytes) -> str:
        """A server push (no refs) around an already-serialized payload: one fan-out serializes a
        change once and frames it per channel."""
        if self.vsn.startswith("2"):
            return b"".join((b"[null,null,", topic_json, b',"', event, b'",', payload, b"]")).decode()
        return b"".join((b'{"event":"', event, b'","payload":', payload, b',"ref":null,"topic":',
                         topic_json, b"}")).decode()

    def decode(self, text: str) -> tuple[str, str, Any, str | None, str | None]:
        msg = orjson.loads(text)
        if isinstance(msg, list):
            join_ref, ref, topic, event, payload = msg
        else:
            topic, event, payload = msg["topic"], msg["event"], msg.get("payload")
            ref, join_ref = msg.get("ref"), msg.get("join_ref")
        if not isinstance(topic, str) or not isinstance(event, str):
            raise ValueError("topic and event must be strings")
        return topic, event, payload if payload is not None else {}, ref, join_ref

    @staticmethod
    def decode_binary(data: bytes) -> tuple[str, str, Any, str | None, str | None]:
        """A vsn 2.0.0 user broadcast push: kind 3, then the byte lengths of join_ref, ref, topic,
        event and metadata, the payload encoding (1 = JSON), those fields, and the payload."""
        if len(data) < 7 or data[0] != USER_BROADCAST_PUSH:
            raise ValueError("not a user broadcast push")
        sizes, encoding = data[1:6], data[6]
        fields, offset = [], 7
        for size in sizes:
            fields.append(data[offset:offset + size].decode())
            offset += size
        join_ref, ref, topic, event, _metadata = fields
        if encoding == JSON_ENCODING:
            payload = {"type": "broadcast", "event": event, "payload": orjson.loads(data[offset:])}
        elif encoding == BINARY_ENCODING:
            payload = broadcast.binary_message(event, data[offset:])
        else:
            raise ValueError(f"unknown payload encoding {encoding}")
        return topic, "broadcast", payload, ref or None, join_ref or None

    # -- sending -------------------------------------------------------------------------------
    def send(self, text: str | bytes, channel: Any = None, position: Any = None) -> bool:
        """Queue a frame; False when the socket is closing or its queue overflowed."""
        if self.closing:
            return False
        try:
            self.queue.put_nowait((text, channel, position))
        except asyncio.QueueFull:
            self.service.stats["slow_consumer_disconnects"] += 1
            log.warning("realtime: a client's queue is full (%d frames); closing it (1013)", self.queue.maxsize)
            self.close(CLOSE_SLOW_CONSUMER)
            return False
        depth = self.queue.qsize()
        if depth > self.service.stats["max_queue_depth"]:
            self.service.stats["max_queue_depth"] = depth
        return True

    def reply(self, topic: str, ref: str | None, join_ref: str | None, status: str,
              response: dict[str, Any]) -> None:
        self.send(self.frame(topic, "phx_reply", {"status": status, "response": response}, ref, join_ref))

    def push(self, topic: str, event: str, payload: Any, join_ref: str | None = None) -> bool:
        return self.send(self.frame(topic, event, payload, None, join_ref))

    def close(self, code: int = 1000) -> None:
        if self.closing:
            return
        self.closing = True
        self.close_code = code
        try:
            self.queue.put_nowait(None)  # wake the writer
        except asyncio.QueueFull:
            pass
        asyncio.get_running_loop().call_soon(self._abort_reader)

    def _abort_reader(self) -> None:
        task = getattr(self, "_reader_task", None)
        if task is not None and not task.done():
            task.cancel()

    async def _writer(self) -> None:
        send = self.ws.send
        while True:
            item = await self.queue.get()
            if item is None:
                break
            text, channel, position = item
            began = time.perf_counter()
            await send({"type": "websocket.send", "bytes": text} if isinstance(text, bytes)
                       else {"type": "websocket.send", "text": text})
            self.service.stats["socket_write_ms"] += (time.perf_counter() - began) * 1000
            if channel is not None:
                channel.sent(position)

    # -- serving -------------------------------------------------------------------------------
    async def serve(self) -> None:
        await self.ws.accept()
        writer = asyncio.create_task(self._writer())
        self._reader_task = asyncio.current_task()
        self.service.connections.add(self)
        try:
            await self._read_loop()
        except asyncio.CancelledError:
            if not self.closing:
                raise
        except WebSocketDisconnect:
            pass
        finally:
            self.service.connections.discard(self)
            self.closing = True
            await channels.socket_closed(self)
            if self.close_code != 1000:
                writer.cancel()
            else:
                try:
                    self.queue.put_nowait(None)
                except asyncio.QueueFull:
                    writer.cancel()
            try:
                await asyncio.wait_for(writer, 5)
            except (TimeoutError, asyncio.CancelledError, WebSocketDisconnect):
                # the peer stopped reading, or went away while a frame was being written (a client
                # closing, a stopping server's clients): not a failure of the server
                log.debug("realtime: the socket closed before its queue was sent (the peer stopped reading)")
            except Exception:  # noqa: BLE001 - the writer's own failure: said, and the socket closes anyway
                log.exception("realtime: the socket's writer failed")
            try:
                await self.ws.close(self.close_code)
            except (RuntimeError, OSError, WebSocketDisconnect):
                pass  # already closed by the peer

    async def _read_loop(self) -> None:
        receive = self.ws.receive
        timeout = self.service.config.idle_timeout
        while True:
            try:
                message = await asyncio.wait_for(receive(), timeout)
            except TimeoutError:
                log.info("realtime: no heartbeat for %ss; closing the socket", timeout)
                self.close(CLOSE_IDLE)
                return
            if message["type"] == "websocket.disconnect":
                return
            text, data = message.get("text"), message.get("bytes")
            if text is None and data is None:
                continue
            self.last_seen = time.monotonic()
            try:
                topic, event, payload, ref, join_ref = self.decode(text) if text is not None \
                    else self.decode_binary(data or b"")
            except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
                log.info("realtime: malformed or unsupported frame ignored (%s)", exc)
                continue
            if topic == PHOENIX:
                if event == "heartbeat":
                    self.reply(PHOENIX, ref, None, "ok", {})
                continue
            try:
                await channels.handle(self, topic, event, payload, ref, join_ref)
            except Exception:  # noqa: BLE001 - one bad message must not kill the socket; say so
                log.exception("realtime: handling %s on %s failed", event, topic)
                self.reply(topic, ref, join_ref, "error", {"reason": "internal error"})
