"""The help-desk MCP server, run as `python -m helpdesk_pkg.server` from backend/."""
