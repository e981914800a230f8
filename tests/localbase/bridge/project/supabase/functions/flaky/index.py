"""Records each call in $BRIDGE_FUNCTION_LOG; {"fail": true} answers 500, {"sleep": s} waits s seconds."""

import asyncio
import json
import os


async def handler(request):
    body = await request.json()
    with open(os.environ["BRIDGE_FUNCTION_LOG"], "a") as fh:
        fh.write(json.dumps({"body": body, "topic": request.headers.get("x-kafka-topic"),
                             "offset": request.headers.get("x-kafka-offset"),
                             "key": request.headers.get("x-kafka-key")}) + "\n")
    if body.get("sleep"):
        await asyncio.sleep(body["sleep"])
    if body.get("fail"):
        from starlette.responses import JSONResponse
        return JSONResponse({"error": "asked to fail"}, status_code=500)
    return {"ok": True}
