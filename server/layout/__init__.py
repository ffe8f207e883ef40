"""Hierarchical graph layout: one level of the module hierarchy at a time, cached by content."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

from server.store.blobs import BlobStore

from .hierarchy import Item, Level, UnknownGroup, build_level, group_paths
from .render import LAYOUT_VERSION, LayoutError, render_svg, to_dot

__all__ = [
    "Item",
    "LayoutCache",
    "LayoutError",
    "Level",
    "UnknownGroup",
    "build_level",
    "group_paths",
    "render_svg",
    "to_dot",
]


class LayoutCache:
    """Laid-out SVGs by content key: in memory, then in the blob store, else `dot` runs once."""

    def __init__(self, blobs: BlobStore | None, memory_items: int = 256) -> None:
        self.blobs = blobs
        self._memory: OrderedDict[str, bytes] = OrderedDict()
        self._memory_items = memory_items
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}

    @staticmethod
    def key(content_key: str, region: int, kind: str, expand: str) -> str:
        text = f"{LAYOUT_VERSION}\0{content_key}\0{region}\0{kind}\0{expand}"
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def _remember(self, key: str, svg: bytes) -> None:
        with self._lock:
            self._memory[key] = svg
            self._memory.move_to_end(key)
            while len(self._memory) > self._memory_items:
                self._memory.popitem(last=False)

    def svg(self, key: str, level: Level) -> bytes:
        with self._lock:
            if key in self._memory:
                self._memory.move_to_end(key)
                return self._memory[key]
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:  # one `dot` per level even when many clients ask at once
            with self._lock:
                if key in self._memory:
                    return self._memory[key]
            stored = self.blobs.get(f"layouts/{key}.svg.gz") if self.blobs else None
            if stored is None:
                stored = render_svg(level)
                if self.blobs:
                    self.blobs.put(f"layouts/{key}.svg.gz", stored)
            self._remember(key, stored)
        with self._lock:
            self._key_locks.pop(key, None)
        return stored
