"""Instance keys: one per object for the whole trace, never reused when CPython reuses an id()."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import Tracing

SUBJECTS = """
    class Plain:
        def touch(self):
            return id(self)

    class Slotted:                       # refuses weak references
        __slots__ = ("name",)

        def __init__(self, name):
            self.name = name

        def touch(self):
            return id(self)

    class Unhashable:                    # __eq__ without __hash__: not usable as a dict key
        def __init__(self, name):
            self.name = name

        def __eq__(self, other):
            return True

        def touch(self):
            return id(self)

    class Named:
        def __init__(self, name):
            self.name = name

        def touch(self):
            return id(self)

    class BadName:
        @property
        def name(self):
            raise RuntimeError("not ready")

        def touch(self):
            return id(self)
"""


def test_reused_id_is_a_new_instance(tracing: Tracing) -> None:
    module = tracing.module(SUBJECTS)
    tracing.instrument(module, "Plain.touch")
    ids = [module.Plain().touch() for _ in range(300)]  # each object dies right after its run
    assert len(set(ids)) < len(ids), "CPython did not reuse any id(); the test proves nothing"
    runs = tracing.runs()
    assert len(runs) == 300
    assert [r.instance_id for r in runs] == ids
    assert len({r.instance_key for r in runs}) == 300


def test_one_object_keeps_one_key(tracing: Tracing) -> None:
    module = tracing.module(SUBJECTS)
    tracing.instrument(module, "Plain.touch", "Named.touch")
    a, b = module.Plain(), module.Named("alice")
    for _ in range(3):
        a.touch()
        b.touch()
    keys = [r.instance_key for r in tracing.runs()]
    assert keys[0::2] == [keys[0]] * 3
    assert keys[1::2] == [keys[1]] * 3
    assert keys[0] != keys[1]


def test_objects_refusing_weakrefs_get_distinct_keys_while_alive(tracing: Tracing) -> None:
    module = tracing.module(SUBJECTS)
    tracing.instrument(module, "Slotted.touch")
    kept = module.Slotted("kept")
    for _ in range(3):
        kept.touch()
    alive = [module.Slotted(f"s{n}") for n in range(200)]
    for obj in alive:
        obj.touch()
    runs = tracing.runs()
    keys_of_live = {r.instance_key for r in runs if r.instance_label == "kept"}
    assert len(keys_of_live) == 1
    assert len({r.instance_key for r in runs}) == 201
    assert [r.instance_label for r in runs[3:]] == [f"s{n}" for n in range(200)]
    assert all(r.instance_class.endswith(".Slotted") for r in runs)


def test_objects_refusing_weakrefs_are_not_kept_alive(tracing: Tracing) -> None:
    module = tracing.module(
        """
        freed = []

        class Slotted:                       # refuses weak references
            __slots__ = ("name",)

            def __init__(self, name):
                self.name = name

            def touch(self):
                return 1

            def __del__(self):
                freed.append(self.name)
        """
    )
    tracing.instrument(module, "Slotted.touch")
    for n in range(50):
        module.Slotted(f"s{n}").touch()
    # Freed as each call's last reference went, as without racetrace: the same order, at once.
    assert module.freed == [f"s{n}" for n in range(50)]
    # Each label is its own object's, even where a freed object's address was reused.
    assert [r.instance_label for r in tracing.runs()] == [f"s{n}" for n in range(50)]


def test_objects_with_eq_but_no_hash_are_traced(tracing: Tracing) -> None:
    module = tracing.module(SUBJECTS)
    tracing.instrument(module, "Unhashable.touch")
    a, b = module.Unhashable("a"), module.Unhashable("b")
    assert a == b  # equal, but two objects: two instances
    a.touch(), b.touch(), a.touch()
    runs = tracing.runs()
    assert [r.instance_label for r in runs] == ["a", "b", "a"]
    assert runs[0].instance_key == runs[2].instance_key != runs[1].instance_key


def test_label_is_the_name_attribute_and_a_failing_name_is_no_label(tracing: Tracing) -> None:
    module = tracing.module(SUBJECTS)
    tracing.instrument(module, "Named.touch", "BadName.touch", "Plain.touch")
    module.Named("planner").touch()
    module.BadName().touch()
    module.Plain().touch()
    runs = tracing.runs()
    assert [r.instance_label for r in runs] == ["planner", None, None]
    assert [r.instance_class.rsplit(".", 1)[1] for r in runs] == ["Named", "BadName", "Plain"]
    assert all(r.instance_key.startswith(f"{r.host}/{r.pid}.") for r in runs)
