// efficiency-optimizer: scores a completed task and upserts the citizen's efficiency_metrics row.
// A Supabase Edge Function: runs unchanged on Supabase (`supabase functions deploy`) and on Localbase.
//
// POST /functions/v1/efficiency-optimizer with the caller's JWT and
//   {"citizen_id": "EFF-2025-001",
//    "task_data": {"completion_time": 1800, "used_manual_config": false, "automation_level": 1.0}}
//
// score = min(100, (base + bonus) * automation_level), where base = 3600 / completion_time * 10
// (50 when no completion time is given) and bonus = 25 unless a manual configuration was used;
// delegation_efficiency is "maximum" without manual configuration, else "partial".
//
// The function looks the citizen up as the caller (RLS: their own row, or a subordinate's) and
// writes the metrics row with the service role (citizens cannot write their own scores). It talks
// to the REST API with fetch, so it needs no package download to start.

const CITIZEN_ID = /^EFF-[0-9]{4}-[0-9]{3,}$/;
const MAX_AUTOMATION_LEVEL = 10;
const MAX_COMPLETION_TIME = 366 * 24 * 3600;
const TASK_FIELDS = new Set(["completion_time", "used_manual_config", "automation_level"]);

class BadInput extends Error {
  constructor(readonly field: string, message: string) {
    super(message);
  }
}

interface Task {
  citizenId: string;
  completionTime: number | null;
  manual: boolean;
  level: number;
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

function numberField(task: Record<string, unknown>, field: string): number | null {
  const value = task[field];
  if (value === undefined || value === null) return null;
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new BadInput(field, `${field} must be a finite number`);
  }
  return value;
}

export function parse(body: unknown): Task {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new BadInput("body", "expected a JSON object");
  }
  const { citizen_id: citizenId, task_data: rawTask = {} } = body as Record<string, unknown>;
  if (typeof citizenId !== "string" || !CITIZEN_ID.test(citizenId)) {
    throw new BadInput("citizen_id", "citizen_id must look like EFF-2025-001");
  }
  if (typeof rawTask !== "object" || rawTask === null || Array.isArray(rawTask)) {
    throw new BadInput("task_data", "task_data must be an object");
  }
  const task = rawTask as Record<string, unknown>;
  const unknown = Object.keys(task).filter((key) => !TASK_FIELDS.has(key)).sort();
  if (unknown.length) throw new BadInput("task_data", `unknown task_data fields: ${unknown.join(", ")}`);
  const completionTime = numberField(task, "completion_time");
  if (completionTime !== null && !(completionTime > 0 && completionTime <= MAX_COMPLETION_TIME)) {
    throw new BadInput("completion_time", "completion_time must be a positive number of seconds (at most a year)");
  }
  const manual = task.used_manual_config ?? false;
  if (typeof manual !== "boolean") {
    throw new BadInput("used_manual_config", "used_manual_config must be true or false");
  }
  const level = numberField(task, "automation_level") ?? 1;
  if (!(level > 0 && level <= MAX_AUTOMATION_LEVEL)) {
    throw new BadInput("automation_level", `automation_level must be above 0 and at most ${MAX_AUTOMATION_LEVEL}`);
  }
  return { citizenId, completionTime, manual, level };
}

export function score(completionTime: number | null, manual: boolean, level: number): number {
  const base = completionTime === null ? 50 : (3600 / completionTime) * 10;
  const bonus = manual ? 0 : 25;
  return Math.round(Math.min(100, (base + bonus) * level) * 100) / 100;
}

// The JWT was verified before the function ran (verify_jwt = true): read who is calling.
function claimsOf(token: string): Record<string, unknown> {
  const payload = token.split(".")[1] ?? "";
  try {
    const text = atob(payload.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(payload.length / 4) * 4, "="));
    return JSON.parse(text);
  } catch {
    return {};
  }
}

function env(name: string): string {
  const value = Deno.env.get(name);
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

async function rest(path: string, init: RequestInit & { key: string; authorization: string }): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("apikey", init.key);
  headers.set("Authorization", init.authorization);
  return await fetch(`${env("SUPABASE_URL")}/rest/v1/${path}`, { ...init, headers });
}

Deno.serve(async (req: Request) => {
  if (req.method !== "POST") return json(405, { error: "use POST" });
  let body: unknown;
  try {
    body = await req.json();
  } catch {
    return json(400, { error: "the body must be JSON", field: "body" });
  }
  let task: Task;
  try {
    task = parse(body);
  } catch (err) {
    if (err instanceof BadInput) return json(400, { error: err.message, field: err.field });
    throw err;
  }

  const authorization = req.headers.get("Authorization") ?? "";
  const claims = claimsOf(authorization.replace(/^Bearer\s+/i, ""));
  if (claims.role !== "authenticated" && claims.role !== "service_role") {
    return json(401, { error: "sign in to run the optimizer" });
  }
  const processedBy = claims.role === "authenticated" ? claims.sub : null;

  const lookup = await rest(`citizens?select=id&citizen_id=eq.${encodeURIComponent(task.citizenId)}`, {
    key: env("SUPABASE_ANON_KEY"),
    authorization,
  });
  if (!lookup.ok) {
    const error = await lookup.json().catch(() => ({}));
    return json(403, { error: error.message ?? "the database refused the lookup", code: error.code });
  }
  const found = await lookup.json();
  if (!found.length) return json(404, { error: `no citizen ${task.citizenId} visible to you`, field: "citizen_id" });

  const serviceKey = env("SUPABASE_SERVICE_ROLE_KEY");
  const row = {
    citizen_id: found[0].id,
    optimization_score: score(task.completionTime, task.manual, task.level),
    delegation_efficiency: task.manual ? "partial" : "maximum",
    completion_time: task.completionTime,
    automation_level: task.level,
    used_manual_config: task.manual,
    processed_at: new Date().toISOString(),
    processed_by: processedBy,
  };
  const saved = await rest("efficiency_metrics?on_conflict=citizen_id", {
    method: "POST",
    key: serviceKey,
    authorization: `Bearer ${serviceKey}`,
    headers: { "Content-Type": "application/json", Prefer: "resolution=merge-duplicates,return=representation" },
    body: JSON.stringify(row),
  });
  if (!saved.ok) {
    const error = await saved.json().catch(() => ({}));
    return json(500, { error: error.message ?? "the metrics row was not saved", code: error.code });
  }
  const [metrics] = await saved.json();
  return json(200, { ...metrics, citizen_id: task.citizenId, citizen_uuid: row.citizen_id });
});
