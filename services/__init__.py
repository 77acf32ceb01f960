"""The use cases: what a family member, the CLI, the MQTT handler, the
migration tool and the scheduler can do, written once.

Each module takes exactly the ports and settings it needs (never the whole
adapter set), raises the domain errors of `core.errors`, and knows nothing of
HTTP: no FastAPI, Starlette or status code below the API layer.
"""
