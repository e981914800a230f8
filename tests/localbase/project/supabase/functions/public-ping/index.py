def handler(request):
    return "pong"
