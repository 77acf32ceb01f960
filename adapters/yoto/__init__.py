"""The Yoto cloud adapter: `client.YotoClient` (every REST and OAuth call, over
httpx) and `cards` (the card JSON shape). Import the modules directly; this
package imports nothing, so loading it costs no httpx import."""
