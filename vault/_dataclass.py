"""``dataclass``: the standard library's, applied when a class is first used.

The standard decorator writes each class's ``__init__``, ``__repr__``, ``__eq__``,
``__hash__`` (and, frozen, ``__setattr__``/``__delattr__``) as source text and compiles it
when the module is imported: 1-3 ms per class, and most of a short command's start-up, though a
command uses few of the ~80 classes it imports (a text restore makes instances of 18 of the
36 it imports, and compares or prints almost none). Here the decorator only records its
arguments and puts placeholders in the class. The first instance, ``dataclasses.fields()``,
``replace()`` or ``is_dataclass()`` of the class runs the standard decorator on it (its
dataclass bases first) for everything but ``__repr__``, ``__eq__`` and ``__hash__``; the first
call of one of those makes the three, again with the standard decorator (on a throwaway
subclass with no fields of its own, whose methods are the ones the class would have had). A
class that defines one of these methods itself, or asks for ``order``, ``unsafe_hash`` or
``slots``, is processed whole at its first use. Either way the class ends up exactly as
``dataclasses.dataclass`` makes it: same methods, fields, parameters and errors. The type
checker sees ``dataclasses.dataclass`` itself.

Compiled ahead: parsing and compiling those texts was a tenth of a text restore's start-up.
``vault/_dataclass_code.py`` holds, as ordinary Python that the interpreter caches as bytecode
like any module, each text the decorator writes for the classes the cold-start commands use,
and ``scripts/make-dataclass-code.py`` writes it. While this module runs the decorator, a text
found there is not compiled again: its function is made from the code the import compiled from
the same text, so the methods are the ones ``exec`` would make (only their file name and line
numbers differ). A text not found (a class changed since, another Python version) is compiled
as before and listed in ``compiled_at_run_time``; ``scripts/make-dataclass-code.py --check``
fails while the cold-start commands compile any. Only the thread running vault's decorator
uses the table; where the table's bytecode cannot be cached, it is not loaded at all.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import os
import sys
import threading
from types import CodeType, FunctionType
from typing import TYPE_CHECKING, Any

__all__ = ["dataclass"]

# The methods the standard decorator may add; a class that defines one itself keeps its own.
_METHODS = ("__init__", "__repr__", "__eq__", "__hash__", "__setattr__", "__delattr__")
_LATER = ("__repr__", "__eq__", "__hash__")  # made at their first call, when they can be
_FIELDS = "__dataclass_fields__"  # what dataclasses.fields() and is_dataclass() read
_PENDING = "__dataclass_pending__"  # the decorator's arguments, until the class is processed
_LATER_OPTIONS = "__dataclass_later__"  # the arguments, until __repr__/__eq__/__hash__ exist
_lock = threading.RLock()  # two threads making the first instances of a class process it once
_code: dict[str, CodeType] | None = None  # text -> its code, from _dataclass_code (first use)
_running = 0  # how deep this module is in the standard decorator (under _lock)
_owner: int | None = None  # the thread running it: the table is used for its texts only
compiled_at_run_time: list[str] = []  # vault's texts of this process not in _dataclass_code


def _table() -> dict[str, CodeType]:
    """``_dataclass_code.CODE``, loaded at its first use; empty where the module's bytecode
    is not cached and cannot be (``PYTHONDONTWRITEBYTECODE`` and no ``.pyc``): compiling the
    whole table on every start would cost more than the texts it saves."""
    global _code
    if _code is None:
        _code = {}
        if _cached():  # by name: a generated module, which the linters and type checker skip
            with contextlib.suppress(ImportError):
                _code = importlib.import_module("vault._dataclass_code").CODE
    return _code


def _cached() -> bool:
    """Whether importing the table reads its bytecode from the cache (or writes it there)."""
    if not sys.dont_write_bytecode:
        return True  # read from the cache, or compiled once and written there
    import importlib.util

    source = os.path.join(os.path.dirname(__file__), "_dataclass_code.py")
    try:
        with open(importlib.util.cache_from_source(source), "rb") as cached:
            header = cached.read(16)  # magic, flags, source mtime, source size
        stat = os.stat(source)
    except (OSError, NotImplementedError, ValueError):
        return False
    if header[:4] != importlib.util.MAGIC_NUMBER:
        return False
    if int.from_bytes(header[4:8], "little"):  # hash-based: checked (or trusted) by import
        return True
    recorded = (int.from_bytes(header[8:12], "little"), int.from_bytes(header[12:16], "little"))
    return recorded == (int(stat.st_mtime) & 0xFFFFFFFF, stat.st_size & 0xFFFFFFFF)


def _exec(source: Any, globals: Any = None, locals: Any = None, /) -> None:
    """``exec`` as the standard decorator calls it: ``exec(text, globals, namespace)``, where
    the text defines one function. In the thread that runs vault's decorator, a text compiled
    ahead binds that function in the namespace as running it would. Anything else (another
    thread's dataclass meanwhile) is compiled as ``dataclasses`` compiles it: without this
    module's ``from __future__ import annotations``, which would turn the methods'
    annotations into strings."""
    if (
        _owner == threading.get_ident()
        and isinstance(source, str)
        and type(globals) is dict
        and type(locals) is dict
    ):
        code = _table().get(source) if "__builtins__" in globals else None
        if code is not None:
            locals[code.co_name] = FunctionType(code, globals)
            return
        compiled_at_run_time.append(source)
    if isinstance(source, str):
        source = compile(source, "<string>", "exec", dont_inherit=True)
    exec(source, vars(dataclasses) if globals is None else globals, locals)  # noqa: S102


def _decorate(cls: type, options: dict[str, Any]) -> type:
    """``dataclasses.dataclass(**options)(cls)``, with the texts compiled ahead."""
    global _running, _owner
    with _lock:
        try:
            _running += 1
            _owner = threading.get_ident()
            dataclasses.exec = _exec  # type: ignore[attr-defined]  # found before the builtin
            return dataclasses.dataclass(**options)(cls)
        finally:
            _running -= 1
            if _running <= 0:  # outermost (or interrupted before counting): the hook goes
                _running, _owner = 0, None
                vars(dataclasses).pop("exec", None)


def _splits(cls: type, options: dict[str, Any]) -> bool:
    """Whether ``__repr__``/``__eq__``/``__hash__`` can wait for their first call: the class
    defines none of the methods itself and asks for nothing that depends on them."""
    return (
        not any(name in cls.__dict__ for name in _METHODS)
        and options.get("repr", True) is True
        and options.get("eq", True) is True
        and not options.get("order")
        and not options.get("unsafe_hash")
    )


def _process(cls: type) -> None:
    """Run the standard decorator on ``cls`` (its pending dataclass bases first); idempotent."""
    with _lock:
        options = cls.__dict__.get(_PENDING)
        if options is None:
            return
        for base in reversed(cls.__mro__[1:]):
            if _PENDING in base.__dict__:
                _process(base)
        later = options.pop(_LATER_OPTIONS, False)
        for name in (*_METHODS, _FIELDS, _PENDING):
            value = cls.__dict__.get(name)
            if later and name in _LATER:
                continue  # the placeholder stays until the method's first call
            if name == _PENDING or isinstance(value, _Fields) or getattr(value, "_pending", False):
                delattr(cls, name)
        if not later:
            _decorate(cls, options)
            return
        _decorate(cls, {**options, "repr": False, "eq": False})
        params = cls.__dict__["__dataclass_params__"]  # the class's own: say what it will have
        params.repr = params.eq = True
        if not options.get("frozen"):  # eq without frozen: unhashable, as the standard makes it
            cls.__hash__ = None  # type: ignore[assignment]
        setattr(cls, _LATER_OPTIONS, options)


def _finish(cls: type) -> None:
    """Give ``cls`` the ``__repr__``/``__eq__``/``__hash__`` the standard decorator makes."""
    with _lock:
        _process(cls)
        options = cls.__dict__.get(_LATER_OPTIONS)
        if options is None:
            return
        namespace = {"__module__": cls.__module__, "__qualname__": cls.__qualname__}
        shadow = type(cls)(cls.__name__, (cls,), namespace)
        _decorate(shadow, {**options, "init": False})
        for name in _LATER:
            if getattr(cls.__dict__.get(name), "_pending", False):
                setattr(cls, name, shadow.__dict__[name])
        delattr(cls, _LATER_OPTIONS)


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
    make = _finish if name in _LATER else _process

    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        make(owner)
        return getattr(owner, name)(self, *args, **kwargs)

    method._pending = True  # type: ignore[attr-defined]
    method.__name__ = method.__qualname__ = name
    return method


def _dataclass(cls: type | None = None, /, **options: Any) -> Any:
    def wrap(cls: type) -> type:
        if options.get("slots"):  # makes a new class: nothing to defer
            return _decorate(cls, options)
        later = _splits(cls, options)
        for name in _METHODS:
            if name not in cls.__dict__:
                setattr(cls, name, _placeholder(cls, name))
        setattr(cls, _FIELDS, _Fields(cls))
        setattr(cls, _PENDING, {**options, _LATER_OPTIONS: later})
        return cls

    return wrap if cls is None else wrap(cls)


if TYPE_CHECKING:
    from dataclasses import dataclass as dataclass
else:
    dataclass = _dataclass
