"""Acts as the caller: forwards the caller's JWT to REST, so RLS and auth.uid() see the caller."""

import os

from starlette.responses import JSONResponse

from supabase import AsyncClientOptions, acreate_client


async def handler(request):
    body = await request.json() if await request.body() else {}
    if not isinstance(body, dict):
        return JSONResponse({"error": "expected a JSON object"}, status_code=400)
    if "boom" in body:
        return JSONResponse({"error": "bad input: boom", "field": "boom"}, status_code=400)
    client = await acreate_client(
        os.environ["SUPABASE_URL"], os.environ["SUPABASE_ANON_KEY"],
        options=AsyncClientOptions(headers={"Authorization": request.headers["authorization"]},
                                   auto_refresh_token=False, persist_session=False))
    me = await client.rpc("whoami").execute()
    return {"caller": me.data, "echo": body}
