"""Localbase's processes: the foreground stack (server), the API worker processes sharing one port
(worker_pool, and workers: which one this process is), and background-task helpers (tasks).
"Worker" means an API process only; a Deno function's process is a function process
(functions/deno_process.py)."""
