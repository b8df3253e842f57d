"""Help-desk tickets over stdio (mcp 2.x MCPServer). State lives in this process only.

Every change is appended to `journal.jsonl` beside this file with the server's process id, so a test
can see which server process served which call and what the final state was.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel

JOURNAL = Path(__file__).with_name("journal.jsonl")

mcp = MCPServer("tickets", instructions="The help desk's ticket queue.", log_level="WARNING")


class Ticket(BaseModel):
    id: str
    title: str
    body: str
    status: Literal["open", "closed"]
    comments: list[str]


class TicketList(BaseModel):
    tickets: list[Ticket]


TICKETS: dict[str, Ticket] = {
    "T-1": Ticket(id="T-1", title="VPN drops every hour", body="Since Monday.", status="open", comments=[]),
    "T-2": Ticket(id="T-2", title="New laptop for Sam", body="", status="closed", comments=["Shipped."]),
}


def _journal(op: str, ticket: Ticket) -> None:
    entry = {"pid": os.getpid(), "op": op, "ticket": ticket.model_dump()}
    with JOURNAL.open("a", encoding="utf-8") as out:
        out.write(json.dumps(entry) + "\n")


def _get(ticket_id: str) -> Ticket:
    if ticket_id not in TICKETS:
        raise ToolError(f"no ticket {ticket_id!r}; list_tickets shows the ids")
    return TICKETS[ticket_id]


@mcp.tool()
def create_ticket(title: str, body: str = "") -> Ticket:
    """Open a new ticket and return it."""
    ticket = Ticket(id=f"T-{len(TICKETS) + 1}", title=title, body=body, status="open", comments=[])
    TICKETS[ticket.id] = ticket
    _journal("create", ticket)
    return ticket


@mcp.tool()
def list_tickets(status: Literal["open", "closed"] | None = None) -> TicketList:
    """Tickets in the queue, optionally only the open or closed ones."""
    return TicketList(tickets=[t for t in TICKETS.values() if status is None or t.status == status])


@mcp.tool()
def add_comment(ticket_id: str, text: str) -> Ticket:
    """Add a comment to a ticket; returns the updated ticket."""
    ticket = _get(ticket_id)
    ticket.comments.append(text)
    _journal("comment", ticket)
    return ticket


@mcp.tool(structured_output=False)
def close_ticket(ticket_id: str) -> str:
    """Close a ticket."""
    ticket = _get(ticket_id)
    ticket.status = "closed"
    _journal("close", ticket)
    return f"closed {ticket_id}"


if __name__ == "__main__":
    mcp.run()
