"""The MCP server: the family's library, cards and players as tools for an
assistant, over Streamable HTTP at /mcp (`routes`) and over stdio
(`python -m app mcp`). The SDK is imported only when one of them is used."""
