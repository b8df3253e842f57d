"""The code-mode runtime: sandboxed executor, bindings to the host MCP sessions."""
