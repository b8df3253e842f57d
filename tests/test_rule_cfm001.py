"""CFM001: literal `call_tool` on a resolved MCP session → typed wrapper call (and every look-alike left alone)."""

from __future__ import annotations

from libcst.codemod import CodemodContext, CodemodTest

from cfmigrate.analyzers.model import Manifest, ToolDef
from cfmigrate.migrate.rules import MigrationPlan
from cfmigrate.migrate.rules._base import PATH_KEY
from cfmigrate.migrate.rules._plan import tool_names_from_manifests
from cfmigrate.migrate.rules.cfm001_literal_call import LiteralCallTool


def _schema(*props: str, required: tuple[str, ...] = ()) -> dict[str, object]:
    return {
        "type": "object",
        "properties": {p: {"type": "string"} for p in props},
        "required": list(required),
    }


MANIFESTS = [
    Manifest(
        "drive",
        (
            ToolDef("get_document", "Read a doc.", _schema("documentId", "format", required=("documentId",))),
            ToolDef("search", "Search files.", _schema("query", required=("query",))),
            ToolDef("list-recent", "Recent files.", _schema("page_size", "type")),
        ),
        "snapshot",
    ),
    Manifest("slack", (ToolDef("search", "Search messages.", _schema("query")),), "snapshot"),
]
PLAN = MigrationPlan(
    tools=tool_names_from_manifests(MANIFESTS),
    keep_direct=frozenset({"drive/list-recent"}),
    file_servers={"agent.py": ("drive",)},
)


class TestLiteralCallTool(CodemodTest):
    TRANSFORM = LiteralCallTool

    def check(
        self, before: str, after: str, warnings: list[str] | None = None, path: str = "other.py"
    ) -> None:
        context = CodemodContext(scratch={PATH_KEY: path})
        self.assertCodemod(before, after, plan=PLAN, context_override=context, expected_warnings=warnings)

    # ------------------------------------------------------------------ rewrites
    def test_mcp1_client_session_positional_dict(self) -> None:
        before = """
            from mcp import ClientSession

            async def attach(session: ClientSession, doc_id: str) -> str:
                result = await session.call_tool("get_document", {"documentId": doc_id, "format": "text"})
                return result.content[0].text
        """
        after = """
            from mcp import ClientSession
            from servers.drive import get_document

            async def attach(session: ClientSession, doc_id: str) -> str:
                result = await get_document(document_id=doc_id, format_="text")
                return result.content[0].text
        """
        self.check(before, after)

    def test_mcp2_client_with_arguments_keyword(self) -> None:
        before = """
            from mcp import Client

            async def main(url: str) -> None:
                async with Client(url) as client:
                    await client.call_tool(name="get_document", arguments={"documentId": "d1"})
        """
        after = """
            from mcp import Client
            from servers.drive import get_document

            async def main(url: str) -> None:
                async with Client(url) as client:
                    await get_document(document_id="d1")
        """
        self.check(before, after)

    def test_exit_stack_session_attribute_and_module_constant_name(self) -> None:
        before = """
            from contextlib import AsyncExitStack
            from mcp.client.session import ClientSession as Session

            TOOL = "get_document"

            class Agent:
                def __init__(self) -> None:
                    self.stack = AsyncExitStack()
                    self.session: Session | None = None

                async def connect(self, read, write) -> None:
                    self.session = await self.stack.enter_async_context(Session(read, write))

                async def read(self, doc: str):
                    return await self.session.call_tool(TOOL, {
                        "documentId": doc,  # the id from the search
                    })
        """
        after = """
            from contextlib import AsyncExitStack
            from mcp.client.session import ClientSession as Session
            from servers.drive import get_document

            TOOL = "get_document"

            class Agent:
                def __init__(self) -> None:
                    self.stack = AsyncExitStack()
                    self.session: Session | None = None

                async def connect(self, read, write) -> None:
                    self.session = await self.stack.enter_async_context(Session(read, write))

                async def read(self, doc: str):
                    return await get_document(
                        document_id=doc,  # the id from the search
                    )
        """
        self.check(before, after)

    def test_fastmcp_client_dict_call_and_no_arguments(self) -> None:
        before = """
            import fastmcp

            async def main() -> None:
                async with fastmcp.Client("server.py") as c:
                    await c.call_tool("get_document", dict(documentId="d1"))
                    await c.call_tool("list-recent")
        """
        after = """
            import fastmcp
            from servers.drive import get_document

            async def main() -> None:
                async with fastmcp.Client("server.py") as c:
                    await get_document(document_id="d1")
                    await c.call_tool("list-recent")
        """
        self.check(
            before, after, ["CFM001 line 6: drive/list-recent is kept on direct MCP by the audit decision"]
        )

    def test_mcp_use_session_and_ambiguous_tool_narrowed_by_the_agents_servers(self) -> None:
        before = """
            from mcp_use import MCPClient

            async def main() -> None:
                client = MCPClient.from_dict({})
                session = await client.create_session("drive")
                await session.call_tool("search", {"query": "acme"})
        """
        after = """
            from mcp_use import MCPClient
            from servers.drive import search

            async def main() -> None:
                client = MCPClient.from_dict({})
                session = await client.create_session("drive")
                await search(query="acme")
        """
        self.check(before, after, path="agent.py")

    def test_local_name_taken_uses_server_prefixed_alias(self) -> None:
        before = """
            from mcp import ClientSession

            def get_document():
                return None

            async def run(s: ClientSession):
                return await s.call_tool("get_document", {"documentId": "x"})
        """
        after = """
            from mcp import ClientSession
            from servers.drive import get_document as drive_get_document

            def get_document():
                return None

            async def run(s: ClientSession):
                return await drive_get_document(document_id="x")
        """
        self.check(before, after)

    # ------------------------------------------------------------------ left alone
    def test_httpx_client_is_not_mcp(self) -> None:
        code = """
            import httpx

            async def main() -> None:
                async with httpx.AsyncClient() as client:
                    await client.call_tool("get_document", {"documentId": "x"})
        """
        self.check(code, code)

    def test_user_class_named_mcpclient_is_not_mcp(self) -> None:
        code = """
            import requests

            class MCPClient:
                def call_tool(self, name, args):
                    return requests.post("https://example.com/tools/" + name, json=args).json()

            client = MCPClient()
            client.call_tool("get_document", {"documentId": "x"})
        """
        self.check(code, code)

    def test_alias_that_only_spells_like_mcp(self) -> None:
        code = """
            from my_http import Client as ClientSession

            async def run(session: ClientSession) -> None:
                await session.call_tool("get_document", {"documentId": "x"})
        """
        self.check(code, code)

    def test_dynamic_receiver_is_not_resolved(self) -> None:
        code = """
            from mcp import ClientSession

            async def run(registry, name: str) -> None:
                session = getattr(registry, name)
                await session.call_tool("get_document", {"documentId": "x"})
                await registry.sessions[name].call_tool("get_document", {"documentId": "x"})
        """
        self.check(code, code)

    def test_already_migrated_code(self) -> None:
        code = """
            from servers.drive import get_document

            async def run() -> None:
                await get_document(document_id="x")
        """
        self.check(code, code)

    def test_dynamic_tool_name_is_left_for_cfm002(self) -> None:
        code = """
            from mcp import ClientSession

            async def run(session: ClientSession, name: str, args: dict) -> None:
                await session.call_tool(name, args)
        """
        self.check(code, code)

    def test_unknown_key_splat_and_non_literal_arguments(self) -> None:
        code = """
            from mcp import ClientSession

            async def run(session: ClientSession, extra: dict) -> None:
                await session.call_tool("get_document", {"docId": "x"})
                await session.call_tool("get_document", {"documentId": "x", **extra})
                await session.call_tool("get_document", extra)
                await session.call_tool("get_document", {"format": "text"})
        """
        self.check(
            code,
            code,
            [
                "CFM001 line 4: argument 'docId' is not a property of drive/get_document",
                "CFM001 line 5: the arguments dict has a ** splat; its keys are not known statically",
                "CFM001 line 6: the arguments are not a literal dict; their keys are not known statically",
                "CFM001 line 7: required argument 'documentId' of drive/get_document is missing",
            ],
        )

    def test_extra_options_and_error_attributes_and_unknown_tools(self) -> None:
        code = """
            from mcp import ClientSession

            async def run(session: ClientSession) -> None:
                await session.call_tool("get_document", {"documentId": "x"}, read_timeout_seconds=5)
                result = await session.call_tool("get_document", {"documentId": "x"})
                if result.isError:
                    raise RuntimeError(result.content[0].text)
                await session.call_tool("delete_everything", {})
                await session.call_tool("search", {"query": "q"})
        """
        self.check(
            code,
            code,
            [
                "CFM001 line 4: the call passes read_timeout_seconds=, which the wrapper does not take",
                "CFM001 line 5: the result's .isError is read; the wrapper raises ToolError instead of returning an error result -- migrate by hand",
                "CFM001 line 8: no known server offers a tool named 'delete_everything' (run `cfmigrate audit --connect` to snapshot it)",
                "CFM001 line 9: tool 'search' is offered by several servers (drive, slack); cannot tell which this session reaches",
            ],
        )

    def test_local_session_class_of_same_name(self) -> None:
        code = """
            class ClientSession:
                async def call_tool(self, name, arguments):
                    return name

            async def run() -> None:
                session = ClientSession()
                await session.call_tool("get_document", {"documentId": "x"})
        """
        self.check(code, code)
