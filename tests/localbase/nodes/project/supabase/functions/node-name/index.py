"""Which node ran this function (each node serves the project's functions itself)."""

import os


def handler(request):
    return {"node": os.environ.get("LOCALBASE_NODE_ID", "")}
