"""The per-process answers of the two pure, expensive steps: file analysis and model generation."""

from __future__ import annotations

from pathlib import Path

import pytest

from cfmigrate.analyzers import code
from cfmigrate.generators import models

AGENT = (Path(__file__).resolve().parents[1] / "fixtures" / "seed-scenario" / "agent.py").read_bytes()


def test_the_same_file_is_analysed_once_and_a_changed_one_again() -> None:
    first = code.analyze_python(AGENT, "agent.py")
    assert first.agents  # the seed agent is found
    assert code.analyze_python(AGENT, "agent.py") is first
    # another path, other bytes or another mode is another question
    assert code.analyze_python(AGENT, "other/agent.py") is not first
    assert code.analyze_python(AGENT, "agent.py", force=True) is not first
    edited = AGENT + b"\n\nasync def extra_agent():\n    pass\n"
    again = code.analyze_python(edited, "agent.py")
    assert again is not first and [a.name for a in again.agents] == [a.name for a in first.agents]
    unrelated = code.analyze_python(b"print('no MCP here')\n", "agent.py")
    assert unrelated.agents == () and unrelated is not first


def test_the_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(code, "_FACTS_CACHE_SIZE", 2)
    for n in range(5):
        code.analyze_python(AGENT + f"\n# {n}\n".encode(), "agent.py")
    assert len(code._FACTS_CACHE) <= 2


def _document(prop: dict[str, object]) -> dict[str, object]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {},
        "$defs": {"Args": {"type": "object", "properties": {"a": prop}}},
    }


def test_model_generation_answers_once_per_input_and_refusals_are_kept() -> None:
    doc = _document({"type": "string"})
    out = models.run_datamodel_codegen(doc, {})
    assert "class Args" in out
    assert models.run_datamodel_codegen(doc, {}) is out
    renamed = models.run_datamodel_codegen(doc, {"a": "b"})
    assert renamed is not out and "alias='a'" in renamed.replace('"', "'")
    refused = _document({"$ref": "http://example.invalid/schema.json"})
    messages = []
    for _ in range(2):
        with pytest.raises(models.ModelGenerationError) as exc:
            models.run_datamodel_codegen(refused, {})
        messages.append(str(exc.value))
    assert messages[0] == messages[1] and "remote $ref" in messages[0]
