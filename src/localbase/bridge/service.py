"""The Kafka bridge's start-up and shutdown in the gateway's lifespan (placeholder until wired)."""

from __future__ import annotations


async def startup(app) -> None:
    app.state.bridge = None


async def shutdown(app) -> None:
    app.state.bridge = None
