def handler(request):
    raise RuntimeError("deliberate failure")
