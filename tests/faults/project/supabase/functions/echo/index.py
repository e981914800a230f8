"""Reads the whole request body and answers its size (the body-limit tests send it too much)."""


async def handler(request):
    return {"bytes": len(await request.body())}
