"""efficiency-optimizer: scores a completed task and upserts the citizen's efficiency_metrics row.

POST /functions/v1/efficiency-optimizer with the caller's JWT and
    {"citizen_id": "EFF-2025-001",
     "task_data": {"completion_time": 1800, "used_manual_config": false, "automation_level": 1.0}}

score = min(100, (base + bonus) * automation_level), where base = 3600 / completion_time * 10
(50 when no completion time is given) and bonus = 25 unless a manual configuration was used;
delegation_efficiency is "maximum" without manual configuration, else "partial".

The function acts as the caller to find the citizen (RLS: their own row, or a subordinate's), and
writes the metrics row with the service role (citizens cannot write their own scores).
"""

from __future__ import annotations

import math
import os
import re
from datetime import UTC, datetime

import jwt
from postgrest.exceptions import APIError
from starlette.responses import JSONResponse

from supabase import AsyncClientOptions, acreate_client

CITIZEN_ID = re.compile(r"^EFF-[0-9]{4}-[0-9]{3,}$")
MAX_AUTOMATION_LEVEL = 10.0
MAX_COMPLETION_TIME = 366 * 24 * 3600.0


class BadInput(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def _number(task: dict, field: str) -> float | None:
    value = task.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BadInput(field, f"{field} must be a finite number")
    return float(value)


def parse(body: object) -> tuple[str, float | None, bool, float]:
    """The validated (citizen_id, completion_time, used_manual_config, automation_level)."""
    if not isinstance(body, dict):
        raise BadInput("body", "expected a JSON object")
    citizen_id = body.get("citizen_id")
    if not isinstance(citizen_id, str) or not CITIZEN_ID.match(citizen_id):
        raise BadInput("citizen_id", "citizen_id must look like EFF-2025-001")
    task = body.get("task_data", {})
    if not isinstance(task, dict):
        raise BadInput("task_data", "task_data must be an object")
    unknown = set(task) - {"completion_time", "used_manual_config", "automation_level"}
    if unknown:
        raise BadInput("task_data", f"unknown task_data fields: {', '.join(sorted(unknown))}")
    completion_time = _number(task, "completion_time")
    if completion_time is not None and not 0 < completion_time <= MAX_COMPLETION_TIME:
        raise BadInput("completion_time", "completion_time must be a positive number of seconds (at most a year)")
    manual = task.get("used_manual_config", False)
    if not isinstance(manual, bool):
        raise BadInput("used_manual_config", "used_manual_config must be true or false")
    level = _number(task, "automation_level")
    level = 1.0 if level is None else level
    if not 0 < level <= MAX_AUTOMATION_LEVEL:
        raise BadInput("automation_level", f"automation_level must be above 0 and at most {MAX_AUTOMATION_LEVEL:g}")
    return citizen_id, completion_time, manual, level


def score(completion_time: float | None, used_manual_config: bool, automation_level: float) -> float:
    base = 50.0 if completion_time is None else 3600.0 / completion_time * 10.0
    bonus = 0.0 if used_manual_config else 25.0
    return round(min(100.0, (base + bonus) * automation_level), 2)


def _error(status: int, message: str, **extra) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


async def _client(key: str, authorization: str | None = None):
    headers = {"Authorization": authorization} if authorization else {}
    return await acreate_client(os.environ["SUPABASE_URL"], key,
                                options=AsyncClientOptions(headers=headers, auto_refresh_token=False,
                                                           persist_session=False))


async def handler(request):
    if request.method != "POST":
        return _error(405, "use POST")
    try:
        body = await request.json()
    except ValueError:
        return _error(400, "the body must be JSON", field="body")
    try:
        citizen_id, completion_time, manual, level = parse(body)
    except BadInput as exc:
        return _error(400, str(exc), field=exc.field)

    authorization = request.headers.get("authorization", "")
    # The JWT was verified before the function ran (verify_jwt = true); read who is calling.
    claims = jwt.decode(authorization.partition(" ")[2], options={"verify_signature": False})
    if claims.get("role") not in ("authenticated", "service_role"):
        return _error(401, "sign in to run the optimizer")
    processed_by = claims.get("sub") if claims["role"] == "authenticated" else None

    caller = await _client(os.environ["SUPABASE_ANON_KEY"], authorization)
    try:
        found = await caller.table("citizens").select("id").eq("citizen_id", citizen_id).execute()
    except APIError as exc:
        return _error(403, exc.message or "the database refused the lookup", code=exc.code)
    if not found.data:
        return _error(404, f"no citizen {citizen_id} visible to you", field="citizen_id")

    row = {
        "citizen_id": found.data[0]["id"],
        "optimization_score": score(completion_time, manual, level),
        "delegation_efficiency": "partial" if manual else "maximum",
        "completion_time": completion_time,
        "automation_level": level,
        "used_manual_config": manual,
        "processed_at": datetime.now(UTC).isoformat(),
        "processed_by": processed_by,
    }
    service = await _client(os.environ["SUPABASE_SERVICE_ROLE_KEY"])
    saved = await service.table("efficiency_metrics").upsert(row, on_conflict="citizen_id").execute()
    return {**saved.data[0], "citizen_id": citizen_id, "citizen_uuid": row["citizen_id"]}
