"""S3 from the pure core: SigV4 signing and an async client over an injected HTTP fetch.

The public names are re-exported here; see ``docs/s3.md`` for addressing, retries,
credentials and the moto test lane.
"""

from flaresuite.s3.client import S3Client
from flaresuite.s3.credentials import Credentials
from flaresuite.s3.errors import S3Error
from flaresuite.s3.model import CommonPrefix, ObjectHead, S3Object

__all__ = ["CommonPrefix", "Credentials", "ObjectHead", "S3Client", "S3Error", "S3Object"]
