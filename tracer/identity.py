"""Stable identities for the objects runs happen on (and for asyncio tasks), and their labels.

`id()` is not an identity for a trace: CPython reuses it as soon as an object is freed, and it
collides across processes. Each object gets a serial number on first sight, kept in an
`id()`-keyed dict whose entries a weakref callback removes when the object dies, so a later
object at the same address is a new instance. Keying by `id()` (not by the object, as a
WeakKeyDictionary would) works for objects that define `__eq__` without `__hash__`.

Objects that refuse weak references (`__slots__` without `__weakref__`) are never kept alive
for this: they are known by address and class alone, so a later object of the same class at
the same address (after the first is freed) gets the same key. Two runs that overlap in time
hold their objects alive and so never share an address: the limit can merge the lanes of
objects that lived one after the other, never invent an overlap.

A label (an agent's `name`) is read once per instance, without running the object's code.
"""

from __future__ import annotations

import os
import threading
import types
import weakref
from collections.abc import Callable

LabelOf = Callable[[object], "str | None"]

def host_name() -> str:
    """`socket.gethostname()`, which is the kernel's node name, read without importing socket
    (start-up cost, paid by every traced process)."""
    try:
        uname = getattr(os, "uname", None)
        if uname is not None:
            return uname().nodename or "localhost"
        import socket

        return socket.gethostname() or "localhost"
    except OSError:
        return "localhost"


class _Entry:
    __slots__ = ("cls", "extra", "key", "label", "labelled", "parts", "ref", "tail")

    def __init__(self, ref: weakref.ref[object] | None, cls: type, key: str) -> None:
        self.ref = ref
        self.cls = cls  # for objects without a weakref: an address reused by another class
        self.key = key
        self.label: str | None = None
        self.labelled = False
        # What the runtime keeps with an object's key (an asyncio task's creation): looked up
        # once, dropped with the entry.
        self.extra: object = None
        self.parts: list[object] | None = None
        # The runtime's START line parts joined, for the object's runs (`runtime._tail`).
        self.tail: object = None


# Objects without a weakref leave their entry behind when they die: only so many are kept
# (then forgotten all at once: a live one seen again gets a new key, never another's).
_MAX_UNREFERENCED = 65_536


class InstanceRegistry:
    """Gives every object a key `<host>/<pid>.<nonce>/<serial>`, unique and never reused (for
    objects that refuse weak references: see the module's docstring)."""

    def __init__(self, host: str, pid: int) -> None:
        self.prefix = f"{host}/{pid}.{os.urandom(2).hex()}"  # what secrets.token_hex does
        # id() -> entry; read directly by the runtime's hot path (see `labelled`).
        self.entries: dict[int, _Entry] = {}
        self._unreferenced = 0
        self._serial = 0
        self._lock = threading.Lock()

    def key_of(self, obj: object) -> str:
        return self._entry_of(obj).key

    def entry_of(self, obj: object) -> _Entry:
        """The object's entry: its key, and what the runtime keeps with it (`extra`)."""
        return self._entry_of(obj)

    def identify(self, obj: object, read_label: LabelOf | None = None) -> tuple[str, str | None]:
        """The object's key and label; the label is read on the first call only."""
        entry = self._entry_of(obj)
        if entry.ref is None:
            # Known by address: the entry may be an earlier object's, and so would its label.
            return entry.key, safe_label(obj, read_label)
        if not entry.labelled:
            entry.label = safe_label(obj, read_label)
            entry.labelled = True
        return entry.key, entry.label

    def labelled(self, obj: object, read_label: LabelOf | None = None) -> _Entry:
        """The object's entry, its label read (on the first call only, unless the object is
        known by address: then each time, and `parts` stays None)."""
        entry = self._entry_of(obj)
        if entry.ref is None:
            entry.label = safe_label(obj, read_label)
            entry.parts = None
        elif not entry.labelled:
            entry.label = safe_label(obj, read_label)
            entry.labelled = True
        return entry

    def _entry_of(self, obj: object) -> _Entry:
        entry = self.entries.get(id(obj))
        if entry is not None:
            ref = entry.ref
            if ref is None:
                if entry.cls is type(obj):
                    return entry
            elif ref() is obj:
                return entry
        return self._register(obj)

    def _register(self, obj: object) -> _Entry:
        oid = id(obj)
        with self._lock:
            entry = self.entries.get(oid)
            if entry is not None and (
                entry.cls is type(obj) if entry.ref is None else entry.ref() is obj
            ):
                return entry
            self._serial += 1
            key = f"{self.prefix}/{self._serial}"
            try:
                ref: weakref.ref[object] | None = weakref.ref(obj, self._forgetter(oid))
            except TypeError:
                ref = None
                self._unreferenced += 1
                if self._unreferenced > _MAX_UNREFERENCED:
                    self._forget_unreferenced()
            entry = self.entries[oid] = _Entry(ref, type(obj), key)
            return entry

    def _forget_unreferenced(self) -> None:
        # A copy first: a weakref callback (another object dying) may delete meanwhile.
        for oid in [oid for oid, e in list(self.entries.items()) if e.ref is None]:
            del self.entries[oid]
        self._unreferenced = 1

    def _forgetter(self, oid: int) -> Callable[[weakref.ref[object]], None]:
        entries = self.entries

        def forget(ref: weakref.ref[object]) -> None:
            entry = entries.get(oid)
            if entry is not None and entry.ref is ref:
                del entries[oid]

        return forget

    def __len__(self) -> int:
        return len(self.entries)


def safe_label(obj: object, read_label: LabelOf | None = None) -> str | None:
    """The label from `read_label` (a preset's) or `label_of`; nothing it raises, not even
    SystemExit, reaches the program."""
    try:
        label = (read_label or label_of)(obj)
        if label is None:
            return None
        return label if type(label) is str else str.__str__(label)  # type: ignore[arg-type]
    except BaseException:
        return None


# Where a label is found, in order: the `name` attribute, else the field that a `name`
# property commonly reads (AutoGen's agents keep theirs in `_name`).
_LABEL_FIELDS = ("name", "_name")


def label_of(obj: object) -> str | None:
    """A human name for an object: its `name`, when that is a string, read without running
    the object's code: from the instance `__dict__`, a slot, or a plain class attribute,
    never through a property or `__getattr__`."""
    for field in _LABEL_FIELDS:
        value = _static_attribute(obj, field)
        if value is not None:
            return value
    return None


_MISSING = object()


def _static_attribute(obj: object, name: str) -> str | None:
    import inspect  # once an object is first seen; not at start-up

    value = inspect.getattr_static(obj, name, _MISSING)
    if type(value) is types.MemberDescriptorType:  # a slot: read as the interpreter reads it
        try:
            value = value.__get__(obj, type(obj))
        except AttributeError:  # the slot is empty
            return None
    return value if type(value) is str else None


def class_name_of(obj: object) -> str:
    cls = type(obj)
    if issubclass(cls, type):  # a class (a classmethod's run): its own name
        cls = obj  # type: ignore[assignment]
    # Read through `type`'s own descriptors: a metaclass may override either name.
    return f"{_type_module(cls)}.{_type_qualname(cls)}"


_type_module = type.__dict__["__module__"].__get__
_type_qualname = type.__dict__["__qualname__"].__get__


def new_registry() -> InstanceRegistry:
    return InstanceRegistry(host_name(), os.getpid())
