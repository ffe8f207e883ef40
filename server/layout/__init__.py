"""Hierarchical graph layout: one level of the module hierarchy at a time, cached by content."""

from __future__ import annotations

import hashlib
import logging
import threading

from server.lru import LRU
from server.store.blobs import BlobStore, layout_dir

from .hierarchy import Cluster, Item, Level, UnknownGroup, build_level, child_groups, group_paths
from .render import LAYOUT_VERSION, LayoutError, render_svg, to_dot

__all__ = [
    "Cluster",
    "Item",
    "LayoutCache",
    "LayoutError",
    "Level",
    "UnknownGroup",
    "build_level",
    "child_groups",
    "group_paths",
    "render_svg",
    "to_dot",
]


log = logging.getLogger(__name__)


class LayoutCache:
    """Laid-out SVGs by content key: in memory, then in the blob store, else `dot` runs once."""

    def __init__(self, blobs: BlobStore | None, memory_items: int = 256) -> None:
        self.blobs = blobs
        self._memory: LRU[str, bytes] = LRU(memory_items)
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}

    @staticmethod
    def key(content_key: str, region: int, kind: str, expand: str, opened: str = "") -> str:
        text = f"{LAYOUT_VERSION}\0{content_key}\0{region}\0{kind}\0{expand}\0{opened}"
        # under the analysis' content key: deleting the analysis deletes its layouts
        return f"{layout_dir(content_key)}/{hashlib.sha256(text.encode('utf-8')).hexdigest()}"

    def svg(self, key: str, level: Level) -> bytes:
        svg = self._memory.get(key)
        if svg is not None:
            return svg
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:  # one `dot` per level even when many clients ask at once
            svg = self._memory.get(key)
            if svg is not None:
                return svg
            stored = self.blobs.get(f"layouts/{key}.svg.gz") if self.blobs else None
            if stored is None:
                stored = render_svg(level)
                if self.blobs:
                    try:
                        self.blobs.put(f"layouts/{key}.svg.gz", stored)
                    except OSError as e:  # e.g. a full disk: serve it, keep it in memory only
                        log.warning("could not store a layout: %s", e)
            self._memory.put(key, stored)
        with self._lock:
            self._key_locks.pop(key, None)
        return stored
