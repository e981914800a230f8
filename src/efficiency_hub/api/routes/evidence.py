"""/events/{event_id}/evidence: files attached to an event, in Storage. The owner attaches and
removes; the owner and their supervisors list and download (the bucket's policies decide)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Response, UploadFile, status

from efficiency_hub.api.deps import Caller
from efficiency_hub.evidence import Evidence, EvidenceFile

router = APIRouter(prefix="/events/{event_id}/evidence", tags=["evidence"])
MAX_UPLOAD = 10 * 1024 * 1024  # the bucket's own limit; Storage refuses more (413) in any case


EvidenceDep = Annotated[Evidence, Depends(Caller(Evidence))]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=EvidenceFile,
             responses={403: {"description": "not your event"}, 413: {"description": "larger than 10 MiB"},
                        415: {"description": "not an image, PDF, text or CSV file"}})
async def attach(event_id: int, evidence: EvidenceDep, file: Annotated[UploadFile, File()]) -> EvidenceFile:
    content = await file.read(MAX_UPLOAD + 1)
    return await evidence.attach(event_id, file.filename or "file", content,
                                 file.content_type or "application/octet-stream")


@router.get("", response_model=list[EvidenceFile])
async def list_files(event_id: int, evidence: EvidenceDep) -> list[EvidenceFile]:
    """The event's files, each with a signed link valid for five minutes."""
    return await evidence.files(event_id)


@router.get("/{name}", response_class=Response, responses={404: {"description": "not visible to you"}})
async def download(event_id: int, name: str, evidence: EvidenceDep) -> Response:
    content, content_type = await evidence.download(event_id, name)
    return Response(content, media_type=content_type)


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def remove(event_id: int, name: str, evidence: EvidenceDep) -> Response:
    await evidence.remove(event_id, name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
