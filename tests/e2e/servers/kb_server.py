"""Knowledge-base MCP server (mcp 2.x `MCPServer`, stdio): articles and drafts.

State lives in the server process (a second process starts empty); every change is written to
$KB_DATA, else `kb.json` in the working directory, for tests to inspect. Ids are counters.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from mcp.server import MCPServer

server = MCPServer("kb")


def _path() -> Path:
    return Path(os.environ.get("KB_DATA") or "kb.json")


_STATE: dict[str, Any] = {"next": 1, "articles": {}}


def _load() -> dict[str, Any]:
    return _STATE


_SAVING = threading.Lock()  # sync tools run in worker threads: calls an agent gathers write side by side


def _save(state: dict[str, Any]) -> None:
    """Write the state out for inspection (it is never read back: a second process starts empty)."""
    path = _path()
    tmp = path.with_suffix(".tmp")
    with _SAVING:  # one writer of the temp file at a time; the last one holds every change made before it
        tmp.write_text(json.dumps(state, indent=1, sort_keys=True), encoding="utf-8")
        tmp.replace(path)


@server.tool()
def write_article(title: str, body: str) -> dict[str, Any]:
    """Write a knowledge-base article (a draft until published)."""
    state = _load()
    article_id = f"KB-{state['next']}"
    state["next"] += 1
    state["articles"][article_id] = {"id": article_id, "title": title, "body": body, "published": False}
    _save(state)
    return {"id": article_id, "title": title}


@server.tool()
def find_articles(query: str) -> dict[str, Any]:
    """Articles whose title or body contains the query."""
    q = query.casefold()
    found = [
        {"id": a["id"], "title": a["title"], "published": a["published"]}
        for a in _load()["articles"].values()
        if q in a["title"].casefold() or q in a["body"].casefold()
    ]
    return {"articles": found}


@server.tool()
def read_article(article_id: str) -> dict[str, Any]:
    """One article in full."""
    article = _load()["articles"].get(article_id)
    if article is None:
        raise ValueError(f"no article {article_id!r}")
    return article


@server.tool()
def publish_article(article_id: str) -> dict[str, Any]:
    """Publish a draft article."""
    state = _load()
    article = state["articles"].get(article_id)
    if article is None:
        raise ValueError(f"no article {article_id!r}")
    article["published"] = True
    _save(state)
    return {"id": article_id, "published": True}


@server.tool()
def delete_article(article_id: str) -> dict[str, Any]:
    """Delete an article."""
    state = _load()
    state["articles"].pop(article_id, None)
    _save(state)
    return {"deleted": article_id}


def _record_launch() -> None:
    """One line per start of this server process, beside this file (the e2e suite counts server starts)."""
    with Path(__file__).with_name("launches.log").open("a", encoding="utf-8") as log:
        log.write(f"{server.name} {os.getpid()}\n")


if __name__ == "__main__":
    _record_launch()
    server.run()
