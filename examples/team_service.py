"""A team's own FastAPI service reporting into the Efficiency Hub (docs/integration.md).

When one of the team's tasks is completed, it records a `task_completed` event for the signed-in
citizen and runs the efficiency optimizer on the task, both as that citizen: the service forwards
the caller's JWT and holds no service-role key, so row-level security applies as for the user.

    SUPABASE_URL=... SUPABASE_ANON_KEY=... uvicorn examples.team_service:app --port 8100
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Header, HTTPException
from pydantic import BaseModel, Field

from efficiency_hub.clients import user_client
from efficiency_hub.errors import HubError
from efficiency_hub.settings import HubSettings
from efficiency_hub.tracker import Tracker

app = FastAPI(title="Team tasks")


class TaskDone(BaseModel):
    seconds: float = Field(gt=0, description="how long the task took")
    automated: bool = True
    automation_level: float = Field(default=1.0, gt=0, le=10)


async def tracker_for(authorization: Annotated[str | None, Header()] = None) -> Tracker:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(401, "send Authorization: Bearer <the user's Supabase access token>")
    return Tracker(await user_client(HubSettings.from_env(), token))


@app.post("/tasks/{task_id}/complete")
async def complete_task(task_id: str, done: TaskDone, tracker: Annotated[Tracker, Depends(tracker_for)]) -> dict:
    try:
        me = await tracker.me()
        delta = 5 if done.seconds <= 3600 else 1
        event = await tracker.record_event(me, "task_completed", delta, {"task_id": task_id, "seconds": done.seconds})
        scored = await tracker.optimize(me.citizen_id, completion_time=done.seconds,
                                        used_manual_config=not done.automated,
                                        automation_level=done.automation_level)
    except HubError as exc:  # the hub's typed errors carry the status to answer with
        raise HTTPException(exc.status, exc.message) from exc
    return {"citizen_id": me.citizen_id, "event_id": event.id, "score": event.score_after,
            "optimization_score": scored.optimization_score}
