"""An immutable value class without ``dataclasses``: building a frozen dataclass costs a
command-line search ~1-2 ms of start-up each, and the search path has several (keyword nodes, criteria)."""

from __future__ import annotations


class Frozen:
    """Immutable, compared and hashed by type and fields (``__slots__`` in order), like a frozen
    dataclass; ``__init__`` takes the fields' values in that order."""

    __slots__ = ()

    def __init__(self, *values: object) -> None:
        for name, value in zip(self.__slots__, values, strict=True):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def _fields(self) -> tuple:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._fields() == other._fields()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), self._fields()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{n}={getattr(self, n)!r}' for n in self.__slots__)})"

    def __reduce__(self) -> tuple:  # pickle and copy rebuild through __init__ (__setattr__ refuses)
        return type(self), self._fields()
