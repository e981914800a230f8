// Localbase: the first module a TypeScript Edge Function's process evaluates (see deno.py).
//
// It replaces Deno.serve, so that the function's own `Deno.serve(handler)`,
// `Deno.serve(options, handler)` or `Deno.serve({ ...options, handler })` listens on 127.0.0.1 on
// the port Localbase asks for (LOCALBASE_FUNCTION_PORT, 0: any free port), whatever port or
// hostname the options name; it then tells Localbase where it listens with one line on stdout.
// A function whose module exports `default { fetch }` and never calls Deno.serve is served too.
//
// A handler that throws answers 500 with the error shape Localbase's Python functions use
// ({code: "WORKER_ERROR", message, error}) and Supabase's generic words: never the error itself
// (it may hold a database URL, a key, a row); the error and its stack go to stderr (the server
// log, where secrets are masked).

const READY = Deno.env.get("LOCALBASE_FUNCTION_READY") ?? "";
const PORT = Number(Deno.env.get("LOCALBASE_FUNCTION_PORT") ?? "0");
Deno.env.delete("LOCALBASE_FUNCTION_READY");
Deno.env.delete("LOCALBASE_FUNCTION_PORT");

type Handler = (request: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response>;
type Options = Record<string, unknown> & {
  handler?: Handler;
  onError?: (error: unknown) => Response | Promise<Response>;
};

const nativeServe = Deno.serve.bind(Deno) as (options: Record<string, unknown>) => Deno.HttpServer;
let served = false;

const WORKER_ERROR = "Function exited due to an error (please check logs)";

function functionError(): Response {
  return Response.json({ code: "WORKER_ERROR", message: WORKER_ERROR, error: WORKER_ERROR }, { status: 500 });
}

function guarded(handler: Handler, onError: Options["onError"]): Handler {
  return async (request, info) => {
    try {
      const response = await handler(request, info);
      if (!(response instanceof Response)) {
        throw new TypeError(`the handler returned ${typeof response}, not a Response`);
      }
      return response;
    } catch (error) {
      console.error(error);
      if (onError) {
        try {
          return await onError(error);
        } catch (again) {
          console.error(again);
        }
      }
      return functionError();
    }
  };
}

function serve(first: unknown, second?: unknown): Deno.HttpServer {
  let options: Options;
  let handler: Handler | undefined;
  if (typeof first === "function") {
    options = {};
    handler = first as Handler;
  } else {
    options = { ...((first ?? {}) as Options) };
    handler = typeof second === "function" ? (second as Handler) : options.handler;
  }
  if (typeof handler !== "function") {
    throw new TypeError("Deno.serve needs a handler: Deno.serve(handler) or Deno.serve(options, handler)");
  }
  if (served) {
    throw new Error("Deno.serve was called twice: an Edge Function serves one handler");
  }
  served = true;
  // Where to listen is Localbase's choice; TLS is the gateway's business.
  for (const key of ["port", "hostname", "path", "transport", "cert", "key", "onListen", "reusePort"]) {
    delete options[key];
  }
  return nativeServe({
    ...options,
    hostname: "127.0.0.1",
    port: PORT,
    handler: guarded(handler, options.onError),
    onError: undefined,
    onListen: (address: { port: number }) => console.log(`${READY} ${address.port}`),
  });
}

Object.defineProperty(Deno, "serve", { value: serve, writable: true, configurable: true, enumerable: true });

// Background work (`EdgeRuntime.waitUntil(promise)`, as on Supabase): the process is long-lived
// here, so the promise simply runs on; a failure is logged.
const runtime = globalThis as unknown as { EdgeRuntime?: { waitUntil(promise: Promise<unknown>): void } };
runtime.EdgeRuntime ??= {
  waitUntil(promise: Promise<unknown>) {
    Promise.resolve(promise).catch((error) => console.error(error));
  },
};

/** Called by the process's entry module once the function's module has been evaluated. */
export function start(module: Record<string, unknown>): void {
  if (served) return;
  const fallback = module.default as { fetch?: Handler } | undefined;
  if (fallback && typeof fallback.fetch === "function") {
    serve(fallback.fetch.bind(fallback));
    return;
  }
  console.error("the function never called Deno.serve(handler) (nor exports default { fetch })");
  Deno.exit(70);
}
