"""An S3 bucket as an index source, through the core's SigV4 client."""

from __future__ import annotations

from collections.abc import AsyncIterator

from flaresuite.errors import RuntimeFailure
from flaresuite.index.checksums import sha256_from_head
from flaresuite.index.model import SourceObject, Subdirectory
from flaresuite.s3 import CommonPrefix, S3Client


class ObjectVanished(RuntimeFailure):
    """A listed object was gone when its metadata was read: the listing is stale."""


class S3Source:
    def __init__(self, client: S3Client, bucket: str, *, page_size: int = 1000) -> None:
        self.client = client
        self.bucket = bucket
        self.page_size = page_size

    async def list_directory(self, directory: str) -> AsyncIterator[SourceObject | Subdirectory]:
        # The reference lists without a trailing slash, so "whl" also walked "whl-extra/";
        # a directory is a directory here.
        prefix = directory.rstrip("/") + "/" if directory else ""
        listing = self.client.list_directory(self.bucket, prefix, page_size=self.page_size)
        async for entry in listing:
            if isinstance(entry, CommonPrefix):
                yield Subdirectory(entry.prefix.rstrip("/"))
            else:
                yield SourceObject(entry.key, entry.size, entry.etag, entry.last_modified)

    async def sha256(self, obj: SourceObject) -> str | None:
        head = await self.client.head_object(self.bucket, obj.key)
        if head is None:
            raise ObjectVanished(f"{obj.key} was listed but is gone")
        return sha256_from_head(head.checksum_sha256, head.metadata, multipart=head.is_multipart)

    async def read(self, obj: SourceObject) -> bytes:
        body = await self.client.get_object(self.bucket, obj.key)
        if body is None:
            raise ObjectVanished(f"{obj.key} was listed but is gone")
        return body

    async def index_page(self, key: str) -> bytes | None:
        return await self.client.get_object(self.bucket, key)
