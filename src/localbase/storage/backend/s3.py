"""Objects in an S3-compatible store (AWS, MinIO, R2, ...) through boto3, its calls run in threads.

Keys are `<prefix>/<version>`. A write uploads the finished temporary file (multipart for large
files, by boto3's transfer manager) and the row is committed only after the store acknowledged
it; reads stream ranges of GetObject."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from localbase.storage.backend import CHUNK
from localbase.storage.config import S3Config

_VERSION = re.compile(r"^[0-9a-f]{32}$")


class S3Backend:
    def __init__(self, config: S3Config):
        self.config = config
        self.client: Any = None

    async def start(self) -> None:
        import boto3
        from botocore.config import Config

        def make():
            session = boto3.session.Session()
            return session.client(
                "s3", endpoint_url=self.config.endpoint, region_name=self.config.region,
                aws_access_key_id=self.config.access_key_id, aws_secret_access_key=self.config.secret_access_key,
                config=Config(s3={"addressing_style": "path" if self.config.force_path_style else "auto"},
                              retries={"max_attempts": 3, "mode": "standard"}, max_pool_connections=32))
        self.client = await asyncio.to_thread(make)

    async def close(self) -> None:
        if self.client is not None:
            await asyncio.to_thread(self.client.close)
            self.client = None

    def key(self, version: str) -> str:
        if not _VERSION.match(version):
            raise ValueError(f"not a version id: {version[:40]!r}")
        return f"{self.config.prefix}/{version}" if self.config.prefix else version

    async def put(self, version: str, source: Path) -> None:
        from boto3.s3.transfer import TransferConfig
        transfer = TransferConfig(multipart_threshold=16 * 1024 * 1024, multipart_chunksize=16 * 1024 * 1024,
                                  max_concurrency=4)
        await asyncio.to_thread(self.client.upload_file, str(source), self.config.bucket,
                                self.key(version), Config=transfer)
        await asyncio.to_thread(source.unlink, missing_ok=True)

    async def read(self, version: str, start: int, end: int) -> AsyncIterator[bytes]:
        if end <= start:
            return
        response = await asyncio.to_thread(self.client.get_object, Bucket=self.config.bucket,
                                           Key=self.key(version), Range=f"bytes={start}-{end - 1}")
        body = response["Body"]
        try:
            while True:
                chunk = await asyncio.to_thread(body.read, CHUNK)
                if not chunk:
                    break
                yield chunk
        finally:
            body.close()

    async def copy(self, source: str, target: str) -> None:
        await asyncio.to_thread(self.client.copy, {"Bucket": self.config.bucket, "Key": self.key(source)},
                                self.config.bucket, self.key(target))

    async def delete(self, versions: list[str]) -> None:
        for start in range(0, len(versions), 1000):  # S3's limit per DeleteObjects
            batch = [{"Key": self.key(v)} for v in versions[start:start + 1000]]
            await asyncio.to_thread(self.client.delete_objects, Bucket=self.config.bucket,
                                    Delete={"Objects": batch, "Quiet": True})

    async def versions(self, older_than: float) -> list[str]:
        def scan() -> list[str]:
            found = []
            prefix = f"{self.config.prefix}/" if self.config.prefix else ""
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.config.bucket, Prefix=prefix)
            for page in pages:
                for item in page.get("Contents", []):
                    name = item["Key"][len(prefix):]
                    if _VERSION.match(name) and item["LastModified"].timestamp() < older_than:
                        found.append(name)
            return found
        return await asyncio.to_thread(scan)
