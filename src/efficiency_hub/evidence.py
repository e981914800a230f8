"""Evidence files attached to efficiency events, in Supabase Storage (bucket efficiency-evidence).

An event's files live under `<citizen uuid>/<event id>/`: the owner attaches and removes them, the
owner and their supervisors read them (the bucket's RLS policies decide, as for the tables)."""

from __future__ import annotations

import re
from datetime import datetime

from efficiency_hub.clients import Client
from efficiency_hub.errors import BackendError, NotFound, translated
from efficiency_hub.models import Event, Row

BUCKET = "efficiency-evidence"
LINK_SECONDS = 300  # signed links to evidence expire after five minutes
MAX_NAME = 200
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class EvidenceFile(Row):
    event_id: int
    name: str
    path: str
    size: int
    content_type: str
    created_at: datetime | None = None
    url: str | None = None  # a signed link, valid for LINK_SECONDS


def safe_name(filename: str) -> str:
    """A file name Storage accepts as the last part of a key: letters, digits, `.`, `_`, `-`."""
    name = _UNSAFE.sub("_", filename.strip().replace(" ", "-")).lstrip("._-")[:MAX_NAME]
    return name or "file"


class Evidence:
    def __init__(self, client: Client):
        self.client = client

    @property
    def _bucket(self):
        return self.client.storage.from_(BUCKET)

    async def event(self, event_id: int) -> Event:
        """The event, when the caller may see it (their own, or a subordinate's)."""
        with translated():
            rows = (await self.client.table("efficiency_events").select("*").eq("id", event_id).limit(1)
                    .execute()).data
        if not rows:
            raise NotFound(f"no event {event_id} visible to you")
        return Event.model_validate(rows[0])

    @staticmethod
    def folder(event: Event) -> str:
        return f"{event.citizen_id}/{event.id}"

    async def attach(self, event_id: int, filename: str, content: bytes, content_type: str) -> EvidenceFile:
        """Stores a file under the event (the caller must own the event; an existing name is replaced)."""
        event = await self.event(event_id)
        path = f"{self.folder(event)}/{safe_name(filename)}"
        with translated():
            await self._bucket.upload(path, content, {"content-type": content_type, "upsert": "true"})
        found = [f for f in await self.files(event_id, links=False) if f.path == path]
        if not found:
            raise BackendError(f"{path} was stored but is not listed")
        return found[0]

    async def files(self, event_id: int, *, links: bool = True) -> list[EvidenceFile]:
        """The event's files the caller may read, each with a signed link when `links`."""
        event = await self.event(event_id)
        folder = self.folder(event)
        with translated():
            entries = [e for e in await self._bucket.list(folder, {"limit": 1000}) if e.get("id")]
            urls = {}
            if links and entries:
                signed = await self._bucket.create_signed_urls([f"{folder}/{e['name']}" for e in entries],
                                                               LINK_SECONDS)
                urls = {s["path"]: s["signedURL"] for s in signed if s.get("signedURL")}
        return [EvidenceFile(event_id=event.id, name=e["name"], path=f"{folder}/{e['name']}",
                             size=(e.get("metadata") or {}).get("size", 0),
                             content_type=(e.get("metadata") or {}).get("mimetype", "application/octet-stream"),
                             created_at=e.get("created_at"), url=urls.get(f"{folder}/{e['name']}"))
                for e in entries]

    async def download(self, event_id: int, name: str) -> tuple[bytes, str]:
        files = {f.name: f for f in await self.files(event_id, links=False)}
        if name not in files:
            raise NotFound(f"no evidence {name!r} on event {event_id} visible to you")
        with translated():
            return await self._bucket.download(files[name].path), files[name].content_type

    async def remove(self, event_id: int, name: str) -> None:
        event = await self.event(event_id)
        with translated():
            removed = await self._bucket.remove([f"{self.folder(event)}/{name}"])
        if not removed:
            raise NotFound(f"no evidence {name!r} on event {event_id} that you may remove")
