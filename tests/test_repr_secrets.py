"""No original value in a repr: a traceback, a log line or a debugger print of a data object
must not show what the vault keeps secret (the map, the restored text, the original file)."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil

import vault
from vault.client._calls import Upload
from vault.models import JobContent, RemoteJob, SubmitOptions, TextResult
from vault.placeholders import invert_map

SECRET = "Jane Q. Secret"

# Field names that hold originals (or the original file) wherever they occur in the package.
SECRET_FIELDS = {
    "mapping",
    "originals",
    "content",
    "result",
    "custom_entities",
    "filename",
    "plaintext",
    "original",
}


def _dataclasses_in_vault() -> list[type]:
    found = []
    for info in pkgutil.walk_packages(vault.__path__, "vault."):
        # The simulator is the server's side: it holds originals by design and never runs in
        # the vault's process except in tests and the demo.
        if info.name.startswith("vault.simulator") or info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and dataclasses.is_dataclass(value)
                and value.__module__ == info.name
            ):
                found.append(value)
    return found


def test_every_secret_field_of_every_data_object_is_left_out_of_its_repr() -> None:
    classes = _dataclasses_in_vault()
    assert len(classes) > 20  # the walk found the package's data objects
    shown = [
        f"{cls.__module__}.{cls.__qualname__}.{f.name}"
        for cls in classes
        for f in dataclasses.fields(cls)
        # a generated repr shows every field with repr=True
        if cls.__dataclass_params__.repr and f.repr and f.name in SECRET_FIELDS  # type: ignore[attr-defined]
    ]
    assert shown == []


def test_the_objects_that_carry_a_map_do_not_show_it() -> None:
    objects = [
        RemoteJob(
            job_id="j1",
            status="completed",
            progress=100,
            file_type="text",
            result=SECRET.encode(),
            mapping={SECRET: "[PERSON_NAME_1]"},
            entity_count=1,
            error=None,
            created_at=0.0,
        ),
        TextResult(
            anonymized_text="[PERSON_NAME_1]", mapping={SECRET: "[PERSON_NAME_1]"}, entities=1
        ),
        JobContent(
            job_id="j1",
            status="archived",
            file_type="text",
            created_at=0.0,
            content=SECRET.encode(),
            mapping={SECRET: "[PERSON_NAME_1]"},
            filename=f"{SECRET}.txt",
            options=SubmitOptions(custom_entities=((SECRET, "NOTE"),)),
        ),
        SubmitOptions(custom_entities=((SECRET, "NOTE"),)),
        invert_map({SECRET: "[PERSON_NAME_1]"}, "j1"),
        Upload(source=SECRET.encode(), filename=f"{SECRET}.txt", content_type="text/plain"),
    ]
    for obj in objects:
        assert SECRET not in repr(obj), type(obj).__name__
        assert "Secret" not in str(obj), type(obj).__name__
