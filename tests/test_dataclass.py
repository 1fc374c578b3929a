"""``vault._dataclass.dataclass``: the standard decorator, run when the class is first used.
Each case builds the same class with both decorators and compares what they do."""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import py_compile
import re
import subprocess
import sys
import threading
import typing
from collections.abc import Callable
from pathlib import Path
from types import CodeType
from typing import Any

import pytest

from vault import _dataclass


def _pair(body: Callable[[Callable[..., Any]], type]) -> tuple[type, type]:
    """The class ``body`` makes, once with the standard decorator and once with the lazy one."""
    return body(dataclasses.dataclass), body(_dataclass._dataclass)


def _frozen_row(decorate: Callable[..., Any]) -> type:
    @decorate(frozen=True)
    class Row:
        name: str
        count: int = 0
        tags: tuple[str, ...] = dataclasses.field(default=(), compare=False, repr=False)

    return Row


def _pending(cls: type) -> bool:
    return "__dataclass_pending__" in vars(cls)


def test_a_class_is_processed_on_first_use_not_when_defined() -> None:
    _, lazy = _pair(_frozen_row)
    assert _pending(lazy) and "__dataclass_params__" not in vars(lazy)
    lazy("a")
    assert not _pending(lazy) and lazy.__dataclass_params__.frozen  # type: ignore[attr-defined]


def test_frozen_instances_behave_as_the_standard_ones() -> None:
    std, lazy = _pair(_frozen_row)
    a, b = std("a", 2, ("x",)), lazy("a", 2, ("x",))
    assert repr(a) == repr(b) == "_frozen_row.<locals>.Row(name='a', count=2)"
    assert b == lazy("a", 2, ("y",)) and b != lazy("a", 3) and b != a
    assert hash(b) == hash(lazy("a", 2)) == hash(("a", 2))
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'count'"):
        b.count = 3  # type: ignore[attr-defined]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del b.name  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        lazy()
    assert dataclasses.replace(b, count=5) == lazy("a", 5)
    assert dataclasses.asdict(b) == dataclasses.asdict(a)
    assert lazy.__match_args__ == std.__match_args__  # type: ignore[attr-defined]


@pytest.mark.parametrize("use", ["fields", "is_dataclass", "subclass"])
def test_reading_the_fields_processes_the_class(use: str) -> None:
    _, lazy = _pair(_frozen_row)
    if use == "fields":
        assert [f.name for f in dataclasses.fields(lazy)] == ["name", "count", "tags"]
    elif use == "is_dataclass":
        assert dataclasses.is_dataclass(lazy)
    else:

        @_dataclass._dataclass(frozen=True, kw_only=True)
        class Sub(lazy):  # type: ignore[valid-type, misc]
            extra: bool = False

        assert _pending(lazy)  # defining the subclass processes nothing
        assert (
            repr(Sub(name="n", extra=True)) == "test_reading_the_fields_processes_the_class"
            ".<locals>.Sub(name='n', count=0, extra=True)"
        )
    assert not _pending(lazy)


def test_mutable_classes_own_methods_and_plain_subclasses_stay_standard() -> None:
    def body(decorate: Callable[..., Any]) -> type:
        @decorate
        class Box:
            items: list[int] = dataclasses.field(default_factory=list)
            label: str = "box"

            def __repr__(self) -> str:
                return f"<{self.label}>"

            def __post_init__(self) -> None:
                self.label = self.label.upper()

        return Box

    std, lazy = _pair(body)

    class Plain(lazy):  # type: ignore[valid-type, misc]
        def __init__(self) -> None:
            super().__init__([1], "plain")

    box = Plain()
    assert repr(box) == "<PLAIN>" and box.items == [1]
    box.items = [2]
    assert box != lazy([2], "PLAIN")  # the standard __eq__: the same class only
    assert lazy([2], "x") == lazy([2], "X") != std([2], "X")
    assert lazy.__hash__ is None and std.__hash__ is None  # eq without frozen: unhashable
    assert dataclasses.fields(Plain) == dataclasses.fields(lazy)


def test_an_instance_made_without_init_is_processed_by_its_first_method_call() -> None:
    _, lazy = _pair(_frozen_row)
    row = object.__new__(lazy)
    row.__dict__.update(name="n", count=1, tags=())
    assert repr(row).endswith("Row(name='n', count=1)") and row == lazy("n", 1)


def test_threads_making_the_first_instances_process_the_class_once() -> None:
    _, lazy = _pair(_frozen_row)
    start = threading.Barrier(8)
    made: list[object] = []

    def make() -> None:
        start.wait()
        made.append(lazy("t"))

    threads = [threading.Thread(target=make) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert made == [lazy("t")] * 8


def test_vault_modules_use_the_lazy_decorator() -> None:
    """Every dataclass of the package goes through ``vault._dataclass`` (a module that
    imports the standard decorator directly pays for its classes at import again)."""
    direct = re.compile(r"^from dataclasses import .*\bdataclass\b|dataclasses\.dataclass\b", re.M)
    root = Path(_dataclass.__file__).parent
    found = [
        str(path.relative_to(root))
        for path in sorted(root.rglob("*.py"))
        if path.name != "_dataclass.py" and direct.search(path.read_text(encoding="utf-8"))
    ]
    assert not found, found


def test_vault_dataclasses_have_their_own_docstring() -> None:
    """The standard decorator writes a missing docstring from ``inspect.signature`` of the
    class: that costs each such class at start-up (bench/README.md, cold start)."""
    import ast

    root = Path(_dataclass.__file__).parent
    bare = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ClassDef):
                continue
            decorators = [d.func if isinstance(d, ast.Call) else d for d in node.decorator_list]
            if any(isinstance(d, ast.Name) and d.id == "dataclass" for d in decorators):
                if ast.get_docstring(node) is None:
                    bare.append(f"{path.relative_to(root)}:{node.lineno} {node.name}")
    assert not bare, bare


def test_repr_eq_and_hash_are_made_at_their_first_call() -> None:
    std, lazy = _pair(_frozen_row)
    row = lazy("a", 1)
    assert not _pending(lazy) and lazy.__dataclass_params__.repr  # type: ignore[attr-defined]
    assert getattr(vars(lazy)["__repr__"], "_pending", False)  # not made yet
    assert {row, lazy("a", 1)} == {lazy("a", 1)} and hash(row) == hash(std("a", 1))
    assert not getattr(vars(lazy)["__eq__"], "_pending", False)
    assert vars(lazy)["__dataclass_params__"].eq and repr(row) == repr(std("a", 1))
    assert not any(getattr(vars(lazy)[name], "_pending", False) for name in vars(lazy))
    assert [c.__name__ for c in lazy.__subclasses__()] in ([], ["Row"])  # the throwaway one


@pytest.mark.parametrize("frozen", [True, False])
def test_a_class_with_its_own_eq_is_processed_whole_as_the_standard_one(frozen: bool) -> None:
    def body(decorate: Callable[..., Any]) -> type:
        @decorate(frozen=frozen)
        class Key:
            value: str

            def __eq__(self, other: object) -> bool:
                return isinstance(other, Key) and other.value.lower() == self.value.lower()

        return Key

    std, lazy = _pair(body)
    assert lazy("A") == lazy("a") and repr(lazy("A")).endswith("Key(value='A')")
    assert (lazy.__hash__ is None) == (std.__hash__ is None)
    if std.__hash__ is not None:
        assert hash(lazy("x")) == hash(std("x"))


def test_a_lazy_subclass_of_a_lazy_class_compares_and_prints_all_fields() -> None:
    _, base = _pair(_frozen_row)

    @_dataclass._dataclass(frozen=True, kw_only=True)
    class Sub(base):  # type: ignore[valid-type, misc]
        extra: int = 0

    one, two = Sub(name="n", extra=1), Sub(name="n", extra=2)
    assert one != two and one == Sub(name="n", extra=1) and hash(one) != hash(two)
    assert repr(one).endswith("Sub(name='n', count=0, extra=1)")
    assert base("n") != Sub(name="n") and repr(base("n")).endswith("Row(name='n', count=0)")


def test_the_job_field_lists_are_the_dataclass_fields() -> None:
    """``JOB_INFO_FIELDS`` is read from JobInfo's own annotations (so that importing
    ``vault.models`` does not process JobInfo): the same names as ``fields()`` gives."""
    from vault.models import JOB_INFO_FIELDS, JOB_META_FIELDS, JobInfo, JobMeta

    assert JOB_META_FIELDS == tuple(f.name for f in dataclasses.fields(JobMeta))
    assert JOB_INFO_FIELDS == tuple(f.name for f in dataclasses.fields(JobInfo))


# ----------------------------------------------------------------- texts compiled ahead

ROOT = Path(__file__).resolve().parent.parent


def _code_fields(code: CodeType) -> tuple[object, ...]:
    """What a code object computes, without where its text was (file name, line numbers)."""
    consts = tuple(_code_fields(c) if isinstance(c, CodeType) else c for c in code.co_consts)
    return (
        code.co_code, consts, code.co_names, code.co_varnames, code.co_freevars,
        code.co_cellvars, code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount,
        code.co_flags, code.co_name, code.co_qualname, code.co_stacksize,
    )  # fmt: skip


def _table() -> dict[str, CodeType]:
    from vault import _dataclass_code

    return _dataclass_code.CODE


def test_the_code_compiled_ahead_is_the_code_exec_compiles() -> None:
    """Each entry is what ``exec`` in ``dataclasses`` compiles from its key (no inherited
    ``__future__`` flag: ``annotations`` would turn the methods' annotations into strings)."""
    table = _table()
    assert table
    for text, code in table.items():
        module = compile(text, "<string>", "exec", dont_inherit=True)  # as dataclasses does
        (fresh,) = (c for c in module.co_consts if isinstance(c, CodeType))
        assert _code_fields(code) == _code_fields(fresh), text[:80]


def test_a_text_compiled_ahead_binds_the_function_exec_binds() -> None:
    """``_exec`` puts in the namespace the function ``exec`` would: same name, globals,
    code; called with the same locals, it makes the same method."""
    text = next(t for t in _table() if " def __init__(" in t and "_dflt_" in t)
    module_globals = vars(dataclasses)
    by_exec: dict[str, Any] = {}
    by_table: dict[str, Any] = {}
    exec(compile(text, "<string>", "exec", dont_inherit=True), module_globals, by_exec)
    count = len(_dataclass.compiled_at_run_time)
    _dataclass._exec(text, module_globals, by_table)
    assert len(_dataclass.compiled_at_run_time) == count  # found, not compiled
    made, ours = by_exec["__create_fn__"], by_table["__create_fn__"]
    assert ours.__globals__ is made.__globals__ is module_globals
    for name in ("__name__", "__qualname__", "__module__", "__defaults__", "__kwdefaults__"):
        assert getattr(ours, name) == getattr(made, name), name
    assert ours.__closure__ is made.__closure__ is None and ours.__annotations__ == {}
    assert _code_fields(ours.__code__) == _code_fields(made.__code__)
    parameters = made.__code__.co_varnames[: made.__code__.co_argcount]
    arguments = {name: object() for name in parameters}
    made_method, our_method = made(**arguments), ours(**arguments)
    for name in ("__name__", "__qualname__", "__defaults__", "__kwdefaults__", "__annotations__"):
        assert getattr(our_method, name) == getattr(made_method, name), name
    assert _code_fields(our_method.__code__) == _code_fields(made_method.__code__)


def test_a_text_not_compiled_ahead_is_compiled_and_counted() -> None:
    _, lazy = _pair(_frozen_row)  # a class of this test: its __init__ is in no table
    count = len(_dataclass.compiled_at_run_time)
    lazy("a")
    assert len(_dataclass.compiled_at_run_time) > count
    assert "exec" not in vars(dataclasses)  # the hook is gone once the decorator is done


def test_the_cold_start_commands_compile_no_method_text() -> None:
    """``vault/_dataclass_code.py`` holds exactly the texts the cold-start commands compile:
    a changed class makes this fail until the script writes the module again."""
    from vault import _dataclass_code

    if sys.version_info[:2] != _dataclass_code.PYTHON:
        pytest.skip(
            f"LOUD SKIP: vault/_dataclass_code.py holds Python {_dataclass_code.PYTHON}'s "
            f"texts; this is {sys.version_info[:2]}"
        )
    script = ROOT / "scripts" / "make-dataclass-code.py"
    result = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr


def test_a_text_compiled_at_run_time_keeps_real_annotations() -> None:
    """Regression (review): a text not in the table was compiled with this module's
    ``from __future__ import annotations``, so ``__init__`` had string annotations naming the
    decorator's internals (``'_type_count'``) and ``get_type_hints`` failed."""

    def body(decorate: Callable[..., Any]) -> type:
        @decorate
        class Row:
            count: int
            name: str = "x"

        return Row

    std, lazy = _pair(body)
    lazy(1)  # processed: its __init__ text is in no table
    assert typing.get_type_hints(lazy.__init__) == typing.get_type_hints(std.__init__)
    assert inspect.signature(lazy) == inspect.signature(std)


def test_another_threads_dataclass_is_not_affected_by_the_hook() -> None:
    """Regression (review): while vault's decorator runs in one thread, a standard dataclass
    made in another thread is compiled exactly as ``dataclasses`` compiles it, never from
    vault's table or with vault's flags, and is not counted as vault's."""
    stop, bad = threading.Event(), []

    def vault_side() -> None:
        for _ in range(300):

            @_dataclass._dataclass
            class V:
                v: int

            V(1)
        stop.set()

    def user_side() -> None:
        while not stop.is_set():

            @dataclasses.dataclass
            class U:
                u: int

            if U.__init__.__annotations__["u"] != U.__annotations__["u"]:
                bad.append(U.__init__.__annotations__)
            if U.__init__.__code__.co_filename != "<string>":
                bad.append(U.__init__.__code__.co_filename)

    count = len(_dataclass.compiled_at_run_time)
    threads = [threading.Thread(target=vault_side), threading.Thread(target=user_side)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not bad, bad[:1]
    assert len(_dataclass.compiled_at_run_time) - count == 300  # V's __init__, 300 times
    assert "exec" not in vars(dataclasses)


def test_the_table_is_not_loaded_where_its_bytecode_cannot_be_cached(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With ``PYTHONDONTWRITEBYTECODE`` and no cached ``.pyc``, importing the table would
    compile all of it on every start (more than the texts it saves): it is not loaded."""
    monkeypatch.setattr(_dataclass, "_code", None)
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    monkeypatch.setattr(sys, "pycache_prefix", str(tmp_path))  # no .pyc there
    assert _dataclass._table() == {}
    source = str(ROOT / "vault" / "_dataclass_code.py")
    cached = Path(importlib.util.cache_from_source(source))
    py_compile.compile(source, cfile=str(cached), doraise=True)
    assert _dataclass._cached()
    header = bytearray(cached.read_bytes())
    header[8:12] = (int.from_bytes(header[8:12], "little") ^ 1).to_bytes(4, "little")
    cached.write_bytes(bytes(header))  # stale: import would compile the source again
    assert not _dataclass._cached()
    monkeypatch.setattr(_dataclass, "_code", None)
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    assert _dataclass._table() == _table()
