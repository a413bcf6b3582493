"""The MCP server: the platform's MCP tools (`@runapi.ai/mcp`) over this server's catalog and services,
served at /mcp (http.py) and bridged to stdio by `runapi mcp` (cli/mcp_cmd.py)."""
