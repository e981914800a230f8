"""REST routes (/rest/v1): filled in by the pipeline."""
from starlette.responses import JSONResponse
from starlette.routing import Route


async def _todo(request):
    return JSONResponse({})


def routes():
    return [Route("/{path:path}", _todo, methods=["GET", "HEAD", "POST", "PATCH", "PUT", "DELETE"])]
