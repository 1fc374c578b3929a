"""``dataclass``: the standard library's, applied when a class is first used.

The standard decorator writes each class's ``__init__``, ``__repr__``, ``__eq__``,
``__hash__`` (and, frozen, ``__setattr__``/``__delattr__``) as source text and compiles it
when the module is imported: 1-3 ms per class, and most of a short command's start-up, though a
command uses few of the ~80 classes it imports (a text restore makes instances of 18 of the
36 it imports; ``jobs`` of fewer). Here the decorator only records its arguments and puts
placeholders in the class; the first instance, method call, ``dataclasses.fields()``,
``replace()`` or ``is_dataclass()`` of the class runs the standard decorator on it (and on its
dataclass bases first), which then replaces the placeholders with its own methods. From then on
the class is exactly what ``dataclasses.dataclass`` makes: same methods, same fields, same
errors. The type checker sees ``dataclasses.dataclass`` itself.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import TYPE_CHECKING, Any

__all__ = ["dataclass"]

# The methods the standard decorator may add; a class that defines one itself keeps its own.
_METHODS = ("__init__", "__repr__", "__eq__", "__hash__", "__setattr__", "__delattr__")
_FIELDS = "__dataclass_fields__"  # what dataclasses.fields() and is_dataclass() read
_PENDING = "__dataclass_pending__"  # the decorator's arguments, until the class is processed
_lock = threading.RLock()  # two threads making the first instances of a class process it once


def _process(cls: type) -> None:
    """Run the standard decorator on ``cls`` (its pending dataclass bases first); idempotent."""
    with _lock:
        options = cls.__dict__.get(_PENDING)
        if options is None:
            return
        for base in reversed(cls.__mro__[1:]):
            if _PENDING in base.__dict__:
                _process(base)
        for name in (*_METHODS, _FIELDS, _PENDING):
            value = cls.__dict__.get(name)
            if name == _PENDING or isinstance(value, _Fields) or getattr(value, "_pending", False):
                delattr(cls, name)
        dataclasses.dataclass(**options)(cls)


class _Fields:
    """The class's ``__dataclass_fields__`` until it is processed: reading it (``fields()``,
    ``is_dataclass()``, a subclass's decorator) processes the class and returns the real one."""

    def __init__(self, cls: type) -> None:
        self.cls = cls

    def __get__(self, instance: object, owner: type) -> Any:
        _process(self.cls)
        return getattr(owner, _FIELDS)


def _placeholder(owner: type, name: str) -> Any:
    """A method that processes ``owner`` and calls the method the decorator put there."""

    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        _process(owner)
        return getattr(owner, name)(self, *args, **kwargs)

    method._pending = True  # type: ignore[attr-defined]
    method.__name__ = method.__qualname__ = name
    return method


def _dataclass(cls: type | None = None, /, **options: Any) -> Any:
    def wrap(cls: type) -> type:
        if options.get("slots"):  # makes a new class: nothing to defer
            return dataclasses.dataclass(**options)(cls)
        for name in _METHODS:
            if name not in cls.__dict__:
                setattr(cls, name, _placeholder(cls, name))
        setattr(cls, _FIELDS, _Fields(cls))
        setattr(cls, _PENDING, options)
        return cls

    return wrap if cls is None else wrap(cls)


if TYPE_CHECKING:
    from dataclasses import dataclass as dataclass
else:
    dataclass = _dataclass
