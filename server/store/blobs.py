"""Compressed artifacts (analysis documents, laid-out SVGs) through fsspec: a local dir or a URL."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import secrets

import fsspec  # type: ignore[import-untyped]
from fsspec.implementations.local import LocalFileSystem  # type: ignore[import-untyped]


def layout_dir(content_key: str) -> str:
    """The folder under `layouts/` that holds one analysis' laid-out SVGs."""
    return hashlib.sha256(content_key.encode("utf-8")).hexdigest()[:32]


class BlobStore:
    """gzip-compressed bytes under string keys such as `documents/<job>.json.gz`."""

    def __init__(self, url: str) -> None:
        fs, root = fsspec.core.url_to_fs(url)
        self.fs = fs
        self.root = root.rstrip("/")
        self.local = isinstance(fs, LocalFileSystem)
        if self.local:
            fs.makedirs(self.root, exist_ok=True)

    def _path(self, key: str) -> str:
        return f"{self.root}/{key}"

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        packed = gzip.compress(data, compresslevel=6)
        if self.local:
            # write then rename: a crash never leaves a half-written blob under the real key
            self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
            tmp = f"{path}.{secrets.token_hex(6)}.tmp"
            self.fs.pipe_file(tmp, packed)
            self.fs.mv(tmp, path)
        else:
            self.fs.pipe_file(path, packed)

    def get(self, key: str) -> bytes | None:
        try:
            packed = self.fs.cat_file(self._path(key))
        except FileNotFoundError:
            return None
        return gzip.decompress(packed)

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self._path(key))

    def delete_tree(self, prefix: str) -> None:
        """Remove every blob under `prefix/` (e.g. one analysis' laid-out SVGs)."""
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(self._path(prefix.rstrip("/")), recursive=True)
