"""``NamedTuple`` without importing ``typing``, for the modules a ``mailarchive search`` loads.

Under ``from __future__ import annotations`` every field annotation of a ``typing.NamedTuple`` is a
string, which ``typing`` turns into a ``ForwardRef`` at class creation, and a ``ForwardRef`` compiles
its string: ~160 k instructions a field, ~15 M for the 96 fields of the NamedTuples a search's modules
declared, on top of ~12 M for importing ``typing`` at all (a quarter of what a search ran above the
bare interpreter; issue #18 item 4). Nothing reads those evaluated annotations at run time.

The class built here is the one ``typing.NamedTuple`` builds (``collections.namedtuple`` with the class
body's defaults, methods, properties and docstring set on it, ``tuple`` its only base, the same
checks), except that ``__annotations__`` keeps the strings. Type checkers see ``typing.NamedTuple``.
Modules on that path also import ``typing``'s names only for type checkers::

    TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (type checkers know the name)
    if TYPE_CHECKING:
        from typing import Any
"""

from __future__ import annotations

import collections

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NamedTuple as NamedTuple
else:
    # what typing.NamedTuple refuses or sets itself (typing's _prohibited and _special)
    _PROHIBITED = frozenset({"__new__", "__init__", "__slots__", "__getnewargs__", "_fields", "_field_defaults",
                             "_make", "_replace", "_asdict", "_source"})  # fmt: skip
    _SPECIAL = frozenset({"__module__", "__name__", "__annotations__"})

    class _NamedTupleMeta(type):
        def __new__(mcs, typename: str, bases: tuple, namespace: dict) -> type:
            if bases != (NamedTuple,):
                raise TypeError("can only inherit from a NamedTuple type")
            annotations = namespace.get("__annotations__", {})
            with_default = _defaults_in_order(annotations, namespace)
            cls = collections.namedtuple(typename, list(annotations), defaults=[namespace[n] for n in with_default],
                                         module=namespace["__module__"])  # fmt: skip
            cls.__annotations__ = cls.__new__.__annotations__ = dict(annotations)
            cls.__orig_bases__ = bases  # as the class statement sets it for typing's (its base is a function)
            for key, value in namespace.items():
                if key in _PROHIBITED:
                    raise AttributeError("Cannot overwrite NamedTuple attribute " + key)
                if key not in _SPECIAL and key not in cls._fields:
                    setattr(cls, key, value)
            return cls

    def _defaults_in_order(annotations: dict, namespace: dict) -> list[str]:
        """The fields with a default, which must all come after those without (typing's message)."""
        with_default: list[str] = []
        for name in annotations:
            if name in namespace:
                with_default.append(name)
            elif with_default:
                raise TypeError(f"Non-default namedtuple field {name} cannot follow default field"
                                f"{'s' if len(with_default) > 1 else ''} {', '.join(with_default)}")  # fmt: skip
        return with_default

    NamedTuple = type.__new__(_NamedTupleMeta, "NamedTuple", (), {"__module__": __name__})
