"""A server the audit can link statically, for tests of agents that take their session as a parameter.

`migrate` follows the audit: an agent whose servers cannot be linked is "unknown" and never
migrated. A module that declares the server it starts (`SERVER = StdioServerParameters(...)`) links it
to the agent in that module; the server's source (21 tools, read by static analysis) puts the agent
over the decision framework's 20-tool line.
"""

from __future__ import annotations

WEATHER_SERVER = (
    '"""A weather MCP server with many small tools."""\n\n'
    "from mcp.server import MCPServer\n\n"
    'server = MCPServer("weather")\n'
    + "".join(
        f'\n\n@server.tool()\ndef station_{n:02d}(city: str) -> str:\n    """Reading of station {n}."""\n    return city\n'
        for n in range(21)
    )
    + '\n\nif __name__ == "__main__":\n    server.run()\n'
)

DECLARATION = 'SERVER = StdioServerParameters(command="python", args=["weather_server.py"])\n'


def linked(agent: str) -> str:
    """The agent source with the server it starts declared after its imports."""
    head, sep, rest = agent.partition("\n\n\n")
    head = head.replace(
        "from mcp import ClientSession\n", "from mcp import ClientSession, StdioServerParameters\n"
    )
    if "StdioServerParameters" not in head:
        head += "\nfrom mcp import StdioServerParameters"
    return f"{head}\n\n{DECLARATION}\n\n{rest}" if sep else f"{head}\n\n{DECLARATION}"
