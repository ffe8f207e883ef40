"""The one bounded least-recently-used map of the server (documents, views, laid-out SVGs)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRU(Generic[K, V]):
    """At most `size` values; the least recently read or written goes first. Thread-safe."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            return None

    def put(self, key: K, value: V) -> V:
        """Keep `value` under `key`; returns it."""
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def drop(self, pred: Callable[[K, V], bool]) -> None:
        """Forget every entry for which `pred(key, value)` holds."""
        with self._lock:
            for key in [k for k, v in self._items.items() if pred(k, v)]:
                del self._items[key]

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
