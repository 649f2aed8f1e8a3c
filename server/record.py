"""A mutable value class without ``dataclasses``: importing that module costs every command ~42 M
instructions (``inspect``, ``ast``, ``dis``, ``tokenize``) and each dataclass ~4 M more to build
(every generated method is compiled from source), which a ``mailarchive search`` paid at start-up for
the message, attachment, account and audit records it may never build (issue #18 item 4)."""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see server/tuples.py)
if TYPE_CHECKING:
    from typing import Any


_VARKEYWORDS = 0x08  # inspect.CO_VARKEYWORDS (without importing inspect, one of the costs avoided here)


class Record:
    """A mutable record whose fields are its ``__init__``'s parameters, in order (``_fields``, as on a
    NamedTuple; a subclass whose ``__init__`` takes ``**fields`` for its base adds its own). Compared by type and fields, unhashable, shown, copied and pickled like the
    (non-frozen) dataclass each subclass was; ``_replace`` is ``dataclasses.replace`` (a copy built
    through ``__init__``, so its normalisation runs again)."""

    _fields: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        code = cls.__init__.__code__
        own = code.co_varnames[1 : code.co_argcount + code.co_kwonlyargcount]
        if code.co_flags & _VARKEYWORDS:  # ``**fields`` passed on to the base's __init__: its fields, then these
            own = (*cls._fields, *(name for name in own if name not in cls._fields))
        cls._fields = own

    def _values(self) -> tuple:
        return tuple(getattr(self, name) for name in self._fields)

    def _asdict(self) -> dict[str, Any]:
        """The fields in order (one level: ``dataclasses.asdict`` also copied the values)."""
        return {name: getattr(self, name) for name in self._fields}

    def _replace(self, **changes: Any) -> Any:
        return type(self)(**self._asdict() | changes)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]  # mutable, like a dataclass with eq and without frozen

    def __repr__(self) -> str:
        return f"{type(self).__qualname__}({', '.join(f'{n}={getattr(self, n)!r}' for n in self._fields)})"
