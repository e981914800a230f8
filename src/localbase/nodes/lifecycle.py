"""This process's membership, started before the services (Realtime records its slot in it) and
stopped after them, in the gateway's lifespan."""

from __future__ import annotations

import logging

from localbase.nodes.agreement import fingerprint
from localbase.nodes.membership import Membership

log = logging.getLogger("localbase.nodes")


async def startup(app) -> None:
    from localbase.realtime.service import RealtimeConfig, realtime_dsn
    settings = app.state.settings
    membership = Membership(realtime_dsn(settings), settings.nodes, api_url=settings.api_url,
                            keys=fingerprint(settings), slot_prefix=RealtimeConfig.from_settings(settings).slot_name)
    await membership.start()
    app.state.membership = membership


async def shutdown(app) -> None:
    membership: Membership | None = getattr(app.state, "membership", None)
    if membership is not None:
        app.state.membership = None
        await membership.stop()
