"""The document store: files kept once, by the SHA-256 of their content.

A file lives at ``<root>/<first two hex digits>/<sha256>``. Writing streams the
source into a temporary file in the store while hashing it, then renames it
into place, so a crash never leaves a half-written file under a digest name.
The same content added twice is stored once.
"""

from __future__ import annotations

import hashlib
import io
import mimetypes
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .errors import ConfigError, IntegrityError, InvalidInput

_CHUNK = 1 << 20


@dataclass(frozen=True)
class StoredFile:
    """A file in the store: its digest, size, format (extension) and media type."""

    sha256: str
    size: int
    format: str
    media_type: str
    original_name: str


def describe_format(name: str) -> tuple[str, str]:
    """(format, media type) of a file name: the lower-case extension, and its MIME type."""
    suffix = Path(name).suffix.lower().lstrip(".")
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return (suffix or "bin"), media_type


class FileStore:
    """A content-addressed folder of documents."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._deferred = False
        self._unsynced = False
        self._made: set[str] = set()  # shard folders known to exist (the root too, once any is)

    @contextmanager
    def deferred_sync(self) -> Iterator[None]:
        """Write files without an fsync each and make them all durable with one sync at the end.

        For batches: the caller leaves the block (and so syncs) before it commits
        the transaction that refers to the files.
        """
        self._deferred = True
        try:
            yield
        finally:
            self._deferred = False
            if self._unsynced:
                os.sync()
                self._unsynced = False

    def path(self, sha256: str) -> Path:
        """Where the file with this digest is (or would be) kept."""
        return self.root / sha256[:2] / sha256

    def put_file(self, source: Path, name: str | None = None) -> StoredFile:
        """Store the file at ``source``; ``name`` overrides the original name recorded."""
        source = Path(source)
        if not source.is_file():
            raise InvalidInput(f"no such file: {source}")
        with source.open("rb") as stream:
            return self._put(stream, name or source.name)

    def put_bytes(self, data: bytes, name: str) -> StoredFile:
        """Store ``data`` under the original name ``name``."""
        # The digest is known before anything is written: content stored before costs no file at all.
        sha256 = hashlib.sha256(data).hexdigest()
        if self.path(sha256).is_file():
            fmt, media_type = describe_format(name)
            return StoredFile(sha256, len(data), fmt, media_type, name)
        return self._put(io.BytesIO(data), name)

    def _put(self, stream: BinaryIO, name: str) -> StoredFile:
        try:
            if not self._made:
                self.root.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha256()
            size = 0
            fd, tmp_name = tempfile.mkstemp(dir=self.root, prefix=".incoming-")
            try:
                with os.fdopen(fd, "wb") as out:
                    while chunk := stream.read(_CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
                    out.flush()
                    if self._deferred:
                        self._unsynced = True
                    else:
                        os.fsync(out.fileno())
                target = self.path(digest.hexdigest())
                if target.parent.name not in self._made:  # 256 shard folders: made once each
                    target.parent.mkdir(exist_ok=True)
                    self._made.add(target.parent.name)
                if target.exists():
                    os.unlink(tmp_name)
                else:
                    os.replace(tmp_name, target)
            except BaseException:
                if os.path.exists(tmp_name):
                    os.unlink(tmp_name)
                raise
        except OSError as exc:
            raise ConfigError(f"cannot write to the file store {self.root}: {exc.strerror or exc}") from None
        fmt, media_type = describe_format(name)
        return StoredFile(digest.hexdigest(), size, fmt, media_type, name)

    def verify(self, sha256: str) -> None:
        """Raise IntegrityError unless the stored file still has this digest."""
        path = self.path(sha256)
        if not path.exists():
            raise IntegrityError(f"document {sha256} is missing from the file store {self.root}")
        digest = hashlib.sha256()
        with path.open("rb") as stream:
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
        if digest.hexdigest() != sha256:
            raise IntegrityError(f"document {sha256} in the file store no longer matches its digest")

    def delete(self, sha256: str) -> bool:
        """Destroy a stored file (disposal; the caller has made sure nothing refers to it). False if it was gone."""
        try:
            self.path(sha256).unlink()
        except FileNotFoundError:
            return False
        return True
