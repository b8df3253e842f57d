"""Helpdesk MCP server (mcp 2.x `MCPServer`, stdio): tickets, comments, tags, people and SLAs.

State lives in the server process, like a browser page or a database transaction: a second process
of this server starts empty, so an agent that splits its calls over two processes loses what the
first one created. Every change is also written to $HELPDESK_DATA (else `helpdesk.json` in the
working directory) for tests to inspect; it is never read back. Ids are counters.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from mcp.server import MCPServer

server = MCPServer("helpdesk")
STATUSES = ("open", "pending", "closed")


def _path() -> Path:
    return Path(os.environ.get("HELPDESK_DATA") or "helpdesk.json")


_STATE: dict[str, Any] = {
    "next": 1,
    "tickets": {},
    "people": {"u1": {"id": "u1", "name": "Ada Moss", "team": "support"}},
}


def _load() -> dict[str, Any]:
    return _STATE


_SAVING = threading.Lock()  # sync tools run in worker threads: calls the agent gathers write side by side


def _save(state: dict[str, Any]) -> None:
    """Write the state out for inspection (it is never read back: a second process starts empty)."""
    path = _path()
    tmp = path.with_suffix(".tmp")
    with _SAVING:  # one writer of the temp file at a time; the last one holds every change made before it
        tmp.write_text(json.dumps(state, indent=1, sort_keys=True), encoding="utf-8")
        tmp.replace(path)


def _ticket(state: dict[str, Any], ticket_id: str) -> dict[str, Any]:
    ticket = state["tickets"].get(ticket_id)
    if ticket is None:
        raise ValueError(f"no ticket {ticket_id!r}")
    return ticket


def _summary(ticket: dict[str, Any]) -> dict[str, Any]:
    return {k: ticket[k] for k in ("id", "title", "status", "priority", "assignee", "tags")}


@server.tool()
def create_ticket(title: str, body: str, priority: str = "normal") -> dict[str, Any]:
    """Open a new ticket and return it."""
    state = _load()
    ticket_id = f"T-{state['next']}"
    state["next"] += 1
    state["tickets"][ticket_id] = {
        "id": ticket_id, "title": title, "body": body, "priority": priority, "status": "open",
        "assignee": None, "tags": [], "comments": [], "watchers": [], "sla": None, "links": [],
    }  # fmt: skip
    _save(state)
    return _summary(state["tickets"][ticket_id])


@server.tool()
def list_tickets(status: str = "open") -> dict[str, Any]:
    """List tickets with a status (open, pending, closed or all)."""
    state = _load()
    found = [_summary(t) for t in state["tickets"].values() if status == "all" or t["status"] == status]
    return {"tickets": found, "count": len(found)}


@server.tool()
def get_ticket(ticket_id: str) -> dict[str, Any]:
    """One ticket with its body and comments."""
    return _ticket(_load(), ticket_id)


@server.tool()
def search_tickets(query: str) -> dict[str, Any]:
    """Tickets whose title or body contains the query (case-insensitive)."""
    q = query.casefold()
    found = [
        _summary(t)
        for t in _load()["tickets"].values()
        if q in t["title"].casefold() or q in t["body"].casefold()
    ]
    return {"tickets": found, "count": len(found)}


@server.tool()
def add_comment(ticket_id: str, text: str, author: str = "agent") -> dict[str, Any]:
    """Add a comment to a ticket."""
    state = _load()
    ticket = _ticket(state, ticket_id)
    comment = {"n": len(ticket["comments"]) + 1, "author": author, "text": text}
    ticket["comments"].append(comment)
    _save(state)
    return {"ticket_id": ticket_id, "comment": comment}


@server.tool()
def list_comments(ticket_id: str) -> dict[str, Any]:
    """The comments of a ticket, oldest first."""
    return {"comments": _ticket(_load(), ticket_id)["comments"]}


@server.tool()
def set_status(ticket_id: str, status: str) -> dict[str, Any]:
    """Move a ticket to open, pending or closed."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}")
    state = _load()
    ticket = _ticket(state, ticket_id)
    ticket["status"] = status
    _save(state)
    return _summary(ticket)


@server.tool()
def close_ticket(ticket_id: str, resolution: str) -> dict[str, Any]:
    """Close a ticket with a resolution note."""
    state = _load()
    ticket = _ticket(state, ticket_id)
    ticket["status"] = "closed"
    ticket["resolution"] = resolution
    _save(state)
    return _summary(ticket)


@server.tool()
def reopen_ticket(ticket_id: str) -> dict[str, Any]:
    """Reopen a closed ticket."""
    return set_status(ticket_id, "open")


@server.tool()
def set_priority(ticket_id: str, priority: str) -> dict[str, Any]:
    """Set a ticket's priority (low, normal, high, urgent)."""
    state = _load()
    ticket = _ticket(state, ticket_id)
    ticket["priority"] = priority
    _save(state)
    return _summary(ticket)


@server.tool()
def assign_ticket(ticket_id: str, person_id: str) -> dict[str, Any]:
    """Assign a ticket to a person."""
    state = _load()
    ticket = _ticket(state, ticket_id)
    if person_id not in state["people"]:
        raise ValueError(f"no person {person_id!r}")
    ticket["assignee"] = person_id
    _save(state)
    return _summary(ticket)


@server.tool()
def unassign_ticket(ticket_id: str) -> dict[str, Any]:
    """Remove a ticket's assignee."""
    state = _load()
    ticket = _ticket(state, ticket_id)
    ticket["assignee"] = None
    _save(state)
    return _summary(ticket)


@server.tool()
def add_tag(ticket_id: str, tag: str) -> dict[str, Any]:
    """Tag a ticket."""
    state = _load()
    ticket = _ticket(state, ticket_id)
    if tag not in ticket["tags"]:
        ticket["tags"].append(tag)
    _save(state)
    return _summary(ticket)


@server.tool()
def remove_tag(ticket_id: str, tag: str) -> dict[str, Any]:
    """Remove a tag from a ticket."""
    state = _load()
    ticket = _ticket(state, ticket_id)
    ticket["tags"] = [t for t in ticket["tags"] if t != tag]
    _save(state)
    return _summary(ticket)


@server.tool()
def list_tags() -> dict[str, Any]:
    """Every tag in use with its ticket count."""
    counts: dict[str, int] = {}
    for ticket in _load()["tickets"].values():
        for tag in ticket["tags"]:
            counts[tag] = counts.get(tag, 0) + 1
    return {"tags": counts}


@server.tool()
def list_people() -> dict[str, Any]:
    """People tickets can be assigned to."""
    return {"people": list(_load()["people"].values())}


@server.tool()
def add_person(person_id: str, name: str, team: str) -> dict[str, Any]:
    """Add someone tickets can be assigned to."""
    state = _load()
    state["people"][person_id] = {"id": person_id, "name": name, "team": team}
    _save(state)
    return state["people"][person_id]


@server.tool()
def add_watcher(ticket_id: str, person_id: str) -> dict[str, Any]:
    """Subscribe a person to a ticket's updates."""
    state = _load()
    ticket = _ticket(state, ticket_id)
    if person_id not in ticket["watchers"]:
        ticket["watchers"].append(person_id)
    _save(state)
    return {"ticket_id": ticket_id, "watchers": ticket["watchers"]}


@server.tool()
def set_sla(ticket_id: str, hours: int) -> dict[str, Any]:
    """Set the hours within which a ticket must be answered."""
    state = _load()
    ticket = _ticket(state, ticket_id)
    ticket["sla"] = hours
    _save(state)
    return {"ticket_id": ticket_id, "sla": hours}


@server.tool()
def link_tickets(ticket_id: str, other_id: str) -> dict[str, Any]:
    """Mark two tickets as related."""
    state = _load()
    first, second = _ticket(state, ticket_id), _ticket(state, other_id)
    first["links"].append(other_id)
    second["links"].append(ticket_id)
    _save(state)
    return {"linked": [ticket_id, other_id]}


@server.tool()
def ticket_stats() -> dict[str, Any]:
    """Ticket counts per status."""
    counts = dict.fromkeys(STATUSES, 0)
    for ticket in _load()["tickets"].values():
        counts[ticket["status"]] += 1
    return counts


@server.tool()
def delete_ticket(ticket_id: str) -> dict[str, Any]:
    """Delete a ticket for good."""
    state = _load()
    _ticket(state, ticket_id)
    del state["tickets"][ticket_id]
    _save(state)
    return {"deleted": ticket_id}


def _record_launch() -> None:
    """One line per start of this server process, beside this file (the e2e suite counts server starts)."""
    with Path(__file__).with_name("launches.log").open("a", encoding="utf-8") as log:
        log.write(f"{server.name} {os.getpid()}\n")


if __name__ == "__main__":
    _record_launch()
    server.run()
