"""An S3 bucket as an index source, through the core's SigV4 client."""

from __future__ import annotations

from collections.abc import AsyncIterator

from flaresuite.index.checksums import sha256_from_head
from flaresuite.index.model import SourceObject
from flaresuite.s3 import S3Client


class ObjectVanished(Exception):
    """A listed object was gone when its metadata was read: the listing is stale."""


class S3Source:
    def __init__(self, client: S3Client, bucket: str, *, page_size: int = 1000) -> None:
        self.client = client
        self.bucket = bucket
        self.page_size = page_size

    async def list(self, prefix: str) -> AsyncIterator[SourceObject]:
        # The reference lists without a trailing slash, so "whl" also walked "whl-extra/";
        # a prefix is a directory here.
        listing = self.client.list_objects(
            self.bucket, prefix.rstrip("/") + "/", page_size=self.page_size
        )
        async for obj in listing:
            yield SourceObject(
                key=obj.key, size=obj.size, etag=obj.etag, last_modified=obj.last_modified
            )

    async def sha256(self, obj: SourceObject) -> str | None:
        head = await self.client.head_object(self.bucket, obj.key)
        if head is None:
            raise ObjectVanished(f"s3://{self.bucket}/{obj.key} was listed but is gone")
        return sha256_from_head(head.checksum_sha256, head.metadata, multipart=head.is_multipart)

    async def read(self, obj: SourceObject) -> bytes:
        body = await self.client.get_object(self.bucket, obj.key)
        if body is None:
            raise ObjectVanished(f"s3://{self.bucket}/{obj.key} was listed but is gone")
        return body
