"""The naming rule shared by `generate` and the codemods: identifiers, field names, class names, collisions."""

from __future__ import annotations

import keyword

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cfmigrate.analyzers.naming import (
    MODEL_ATTRIBUTES,
    RESERVED,
    assign,
    to_class_name,
    to_field_name,
    to_identifier,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("getDocument", "get_document"),
        ("get_document", "get_document"),
        ("HTTPServer", "http_server"),
        ("get-annotated-message", "get_annotated_message"),
        ("github.create_issue", "github_create_issue"),
        ("2fa code", "n_2fa_code"),
        ("class", "class_"),
        ("match", "match_"),  # soft keyword
        ("type", "type_"),
        ("list", "list_"),
        ("search_tools", "search_tools_"),  # reserved by the package
        ("café crème", "cafe_creme"),
        ("日本語", "unnamed"),
        ("", "unnamed"),
        ("__private__", "private"),
        ("VLAN", "vlan"),
    ],
)
def test_to_identifier_examples(raw: str, expected: str) -> None:
    assert to_identifier(raw) == expected


def test_field_names_keep_clear_of_pydantic() -> None:
    assert to_field_name("json") == "json_"
    assert to_field_name("model_config") == "model_config_"
    assert to_field_name("modelDumpJson") == "model_dump_json_"
    assert to_field_name("model_dump_extra") == "field_model_dump_extra"
    assert to_field_name("modelName") == "model_name"  # not protected in pydantic 2.10+
    assert to_field_name("entityType") == "entity_type"


def test_model_attribute_list_matches_installed_pydantic() -> None:
    from pydantic import BaseModel

    assert {n for n in dir(BaseModel) if not n.startswith("_")} == MODEL_ATTRIBUTES


def test_class_names() -> None:
    assert to_class_name("create_entities") == "CreateEntities"
    assert to_class_name("2fa") == "N2fa"
    assert to_class_name("type") == "Type"


def test_collision_names_both_and_suggests_a_rename() -> None:
    mapping, collisions = assign(["getDocument", "get_document", "other"], "server 'docs': tool")
    assert mapping == {"getDocument": "get_document", "other": "other"}
    assert len(collisions) == 1
    message = collisions[0].message()
    assert "'getDocument'" in message and "'get_document'" in message
    assert "[tool.cfmigrate.rename]" in message


def test_case_insensitive_filesystem_collision() -> None:
    # `VLAN` and `Vlan` give different words but the same file on macOS/Windows: `vlan.py`.
    _, collisions = assign(["VLAN", "vlan"], "tool")
    assert collisions and collisions[0].identifier == "vlan"


def test_rename_resolves_a_collision() -> None:
    mapping, collisions = assign(["getDocument", "get_document"], "tool", {"get_document": "get_document_2"})
    assert not collisions
    assert mapping == {"getDocument": "get_document", "get_document": "get_document_2"}


def test_assign_with_field_rule() -> None:
    mapping, collisions = assign(["json", "json_"], "property", convert=to_field_name)
    assert collisions and collisions[0].identifier == "json_"
    assert mapping == {"json": "json_"}


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_every_name_becomes_a_valid_identifier(raw: str) -> None:
    for name in (to_identifier(raw), to_field_name(raw)):
        assert name.isidentifier() and name.isascii()
        assert not keyword.iskeyword(name) and not keyword.issoftkeyword(name)
        assert name not in RESERVED
        assert name == name.lower()
    assert to_field_name(raw) not in MODEL_ATTRIBUTES
    cls = to_class_name(raw)
    assert cls.isidentifier() and cls[0].isupper()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=12), max_size=12))
def test_assign_never_maps_two_names_to_one_file(names: list[str]) -> None:
    mapping, collisions = assign(names, "tool")
    files = [v.casefold() for v in mapping.values()]
    assert len(files) == len(set(files))
    assert set(mapping) | {c.second for c in collisions} == set(names)
