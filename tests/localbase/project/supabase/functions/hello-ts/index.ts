// Echoes what it was sent (method, path, query, a header, the JSON body) and what the runtime
// gives it (environment, permissions), as a Supabase Edge Function.
import { greeting } from "@shared/greeting.ts"; // ../_shared/, mapped in deno.json

async function allowed(attempt: () => Promise<unknown>): Promise<boolean> {
  try {
    await attempt();
    return true;
  } catch {
    return false;
  }
}

Deno.serve(async (req: Request) => {
  const url = new URL(req.url);
  const text = await req.text();
  let body: unknown = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  const result: Record<string, unknown> = {
    message: greeting(typeof body === "object" && body && "name" in body ? String(body.name) : "world"),
    method: req.method,
    host: url.host,
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    header: req.headers.get("x-test-header"),
    authorization: req.headers.get("authorization"),
    body,
    pid: Deno.pid,
    env: {
      SUPABASE_URL: Deno.env.get("SUPABASE_URL") ?? null,
      SUPABASE_ANON_KEY: Boolean(Deno.env.get("SUPABASE_ANON_KEY")),
      SUPABASE_SERVICE_ROLE_KEY: Boolean(Deno.env.get("SUPABASE_SERVICE_ROLE_KEY")),
      SUPABASE_DB_URL: Deno.env.get("SUPABASE_DB_URL")?.startsWith("postgresql://") ?? false,
      TEST_FUNCTION_SECRET: Deno.env.get("TEST_FUNCTION_SECRET") ?? null,
      localbase: Object.keys(Deno.env.toObject()).filter((k) => k.startsWith("LOCALBASE_")),
    },
  };
  if (url.searchParams.has("probe")) {
    result.permissions = {
      read_own_folder: await allowed(() => Deno.readTextFile(new URL("./index.ts", import.meta.url))),
      read_elsewhere: await allowed(() => Deno.readTextFile("/etc/hostname")),
      write_own_folder: await allowed(() => Deno.writeTextFile(new URL("./written.txt", import.meta.url), "x")),
      run: await allowed(() => new Deno.Command("true").output()),
      ffi: await allowed(async () => Deno.dlopen("libc.so.6", {})),
    };
  }
  return Response.json(result, { headers: { "x-function": "hello-ts", "Access-Control-Allow-Origin": "*" } });
});
