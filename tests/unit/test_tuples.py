"""``server.tuples.NamedTuple`` builds the class ``typing.NamedTuple`` builds (a search's modules use it
so that they load no ``typing``): the same fields, defaults, methods, docstring, repr, pickling and
refusals; only ``__annotations__`` keeps the annotation strings."""

from __future__ import annotations

import copy
import pickle
import typing

import pytest

from server import tuples

# one class body, built on each base (the body is compiled with this module's ``annotations`` future)
PAIR = """
class Pair(NamedTuple):
    \"\"\"A pair with a default.\"\"\"

    name: str
    size: int = 0

    @property
    def label(self) -> str:
        return f"{self.name}:{self.size}"

    def grown(self, by: int) -> Pair:
        return self._replace(size=self.size + by)
"""


def _pair(base: object) -> type:
    namespace: dict = {"NamedTuple": base, "__name__": __name__}
    exec(PAIR, namespace)  # noqa: S102 - the same source for both classes
    return namespace["Pair"]


Typed, Plain = _pair(typing.NamedTuple), _pair(tuples.NamedTuple)


class Bare(tuples.NamedTuple):
    a: int
    b: str


def test_the_class_is_the_one_typing_builds() -> None:
    assert Plain.__mro__[1:] == Typed.__mro__[1:] == (tuple, object)
    assert (Plain._fields, Plain._field_defaults, Plain.__doc__) == (Typed._fields, Typed._field_defaults, Typed.__doc__)
    assert (Plain.__module__, Plain.__qualname__) == (Typed.__module__, Typed.__qualname__) == (__name__, "Pair")
    assert Bare.__doc__ == "Bare(a, b)"  # namedtuple's own docstring when the body has none
    assert Plain.__annotations__ == {"name": "str", "size": "int"}
    assert {k for k in vars(Plain)} == {k for k in vars(Typed)}
    assert Plain.__orig_bases__ == (tuples.NamedTuple,) and Typed.__orig_bases__ == (typing.NamedTuple,)


def test_instances_behave_alike() -> None:
    typed, plain = Typed("a", 2), Plain("a", 2)
    assert repr(plain) == repr(typed) == "Pair(name='a', size=2)"
    assert plain == typed == ("a", 2) and hash(plain) == hash(typed)
    assert plain.label == "a:2" and plain.grown(3) == ("a", 5) and type(plain.grown(3)) is Plain
    assert Plain("b") == ("b", 0) and Plain._make(["c", 1]) == ("c", 1) and plain._asdict() == {"name": "a", "size": 2}
    assert copy.copy(plain) == copy.deepcopy(plain) == plain and type(copy.deepcopy(plain)) is Plain
    bare = Bare(1, "x")  # a module-level class: pickled by its name
    assert pickle.loads(pickle.dumps(bare)) == bare and type(pickle.loads(pickle.dumps(bare))) is Bare
    with pytest.raises(AttributeError):
        plain.name = "b"  # type: ignore[misc]


def test_it_refuses_what_typing_refuses() -> None:
    with pytest.raises(TypeError, match="Non-default namedtuple field b cannot follow default field a"):
        class _Order(tuples.NamedTuple):
            a: int = 0
            b: int
    with pytest.raises(AttributeError, match="Cannot overwrite NamedTuple attribute _replace"):
        class _Prohibited(tuples.NamedTuple):
            a: int

            def _replace(self) -> None: ...
    with pytest.raises(TypeError, match="can only inherit from a NamedTuple type"):
        class _Mixed(tuples.NamedTuple, dict):  # type: ignore[misc]
            a: int
