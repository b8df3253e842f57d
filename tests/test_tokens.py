from __future__ import annotations

import json
from pathlib import Path

import pytest

from cfmigrate.analyzers.model import ToolDef
from cfmigrate.analyzers.tokens import BpeTokenizer, TokenizerError, get_encoding, render_tool, tool_cost

MANIFESTS = Path("/work/shared/manifests")
SHARED = Path(__file__).resolve().parents[2] / "shared" / "manifests"


def test_encodings_load_offline_and_match_known_counts() -> None:
    enc = get_encoding("o200k_base")
    assert enc.name == "o200k_base"
    # Stable facts of the vocabularies, independent of our code.
    assert enc.encode("hello world") == [24912, 2375]
    assert get_encoding("cl100k_base").encode("hello world") == [15339, 1917]


def test_unknown_encoding_is_a_clear_error() -> None:
    with pytest.raises(TokenizerError, match="unknown tokenizer 'p50k'"):
        get_encoding("p50k")


def test_labels_say_estimate_and_name_the_vocabulary() -> None:
    assert BpeTokenizer().label == "estimate, o200k_base"
    assert BpeTokenizer("cl100k_base").label == "estimate, cl100k_base"


def test_provider_renderings() -> None:
    tool = ToolDef(
        "get_doc", "Fetch a document.", {"type": "object", "properties": {"id": {"type": "string"}}}
    )
    assert render_tool(tool, "anthropic") == {
        "name": "get_doc",
        "description": "Fetch a document.",
        "input_schema": {"type": "object", "properties": {"id": {"type": "string"}}},
    }
    openai = render_tool(tool, "openai")
    assert openai["type"] == "function" and openai["function"]["parameters"]["properties"]["id"] == {
        "type": "string"
    }
    cost = tool_cost(tool, "anthropic", BpeTokenizer())
    assert 0 < cost.description < cost.total and cost.schema == cost.total - cost.description


def test_real_manifests_total_close_to_published_offline_count() -> None:
    """shared/manifests/README.md reports 17,814 o200k_base tokens over all nine compact dumps."""
    root = SHARED if SHARED.is_dir() else Path(__file__).resolve().parents[1] / "fixtures" / "manifests"
    files = sorted(root.glob("*.tools.json"))
    assert len(files) == 9
    total = sum(
        BpeTokenizer().count(json.dumps(json.loads(f.read_text()), separators=(",", ":"))) for f in files
    )
    assert abs(total - 17_814) / 17_814 < 0.01
