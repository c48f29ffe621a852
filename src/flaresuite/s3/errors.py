"""The error an S3 request ends with when the service answered but did not succeed."""

from __future__ import annotations

from flaresuite.errors import RuntimeFailure


class S3Error(RuntimeFailure):
    """S3 answered a request with an error (the ``<Error>`` document of the S3 API
    Reference's "Error responses"), or with a response the client cannot read.

    ``str()`` names the operation, bucket and key, the HTTP status, S3's error code and
    message, and the request id that AWS or Cloudflare support asks for.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        request_id: str | None = None,
        *,
        operation: str = "",
        bucket: str = "",
        key: str | None = None,
        attempts: int = 1,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.operation = operation
        self.bucket = bucket
        self.key = key
        self.attempts = attempts
        super().__init__(self._describe())

    def _describe(self) -> str:
        target = f"bucket {self.bucket!r}"
        if self.key is not None:
            target = f"key {self.key!r} in {target}"
        tries = f" after {self.attempts} attempts" if self.attempts > 1 else ""
        detail = f": {self.message}" if self.message else ""
        request = f" (request id {self.request_id})" if self.request_id else ""
        outcome = f"{self.status} {self.code}{detail}{request}"
        return f"S3 {self.operation} on {target} failed{tries}: {outcome}"
