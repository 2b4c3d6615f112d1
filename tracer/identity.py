"""Stable identities for the objects runs happen on (and for asyncio tasks).

`id()` is not an identity for a trace: CPython reuses it as soon as an object is freed, and it
collides across processes. Each object gets a serial number on first sight, kept in an
`id()`-keyed dict whose entries a weakref callback removes when the object dies, so a later
object at the same address is a new instance. Keying by `id()` (not by the object, as a
WeakKeyDictionary would) works for objects that define `__eq__` without `__hash__`.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import weakref
from collections.abc import Callable


def host_name() -> str:
    try:
        return socket.gethostname() or "localhost"
    except OSError:
        return "localhost"


class InstanceRegistry:
    """Gives every object a key `<host>/<pid>.<nonce>/<serial>`, unique and never reused.

    The nonce tells apart two processes that got the same pid on one host. Objects that refuse
    weak references are held strongly instead: that keeps their `id()` from being reused, which
    is what soundness needs, at the price of keeping them alive until the process ends.
    """

    def __init__(self, host: str, pid: int) -> None:
        self.prefix = f"{host}/{pid}.{secrets.token_hex(2)}"
        self._entries: dict[int, tuple[weakref.ref[object] | None, str]] = {}
        self._pinned: dict[int, object] = {}
        self._serial = 0
        self._lock = threading.Lock()

    def key_of(self, obj: object) -> str:
        entry = self._entries.get(id(obj))
        if entry is not None:
            ref, key = entry
            if ref is None or ref() is obj:
                return key
        return self._register(obj)

    def _register(self, obj: object) -> str:
        oid = id(obj)
        with self._lock:
            entry = self._entries.get(oid)
            if entry is not None and (entry[0] is None or entry[0]() is obj):
                return entry[1]
            self._serial += 1
            key = f"{self.prefix}/{self._serial}"
            try:
                ref: weakref.ref[object] | None = weakref.ref(obj, self._forgetter(oid))
            except TypeError:
                ref = None
                self._pinned[oid] = obj
            self._entries[oid] = (ref, key)
            return key

    def _forgetter(self, oid: int) -> Callable[[weakref.ref[object]], None]:
        entries = self._entries

        def forget(ref: weakref.ref[object]) -> None:
            entry = entries.get(oid)
            if entry is not None and entry[0] is ref:
                del entries[oid]

        return forget

    def __len__(self) -> int:
        return len(self._entries)


def label_of(obj: object) -> str | None:
    """A human name for an object: its `name` attribute, when that is a string."""
    try:
        name = getattr(obj, "name", None)
    except Exception:  # a property that raises is the object's business
        return None
    return name if isinstance(name, str) else None


def class_name_of(obj: object) -> str:
    cls = obj if isinstance(obj, type) else type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def new_registry() -> InstanceRegistry:
    return InstanceRegistry(host_name(), os.getpid())
