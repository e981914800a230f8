// Acts as the caller: plain fetch to the REST API with the caller's Authorization, so row-level
// security sees the caller (auth.uid()). POST {"body": "..."} adds a note; GET lists them.
Deno.serve(async (req: Request) => {
  const headers = {
    apikey: Deno.env.get("SUPABASE_ANON_KEY")!,
    Authorization: req.headers.get("Authorization")!,
    "Content-Type": "application/json",
  };
  const notes = `${Deno.env.get("SUPABASE_URL")}/rest/v1/notes`;
  const answer = req.method === "POST"
    ? await fetch(`${notes}?select=body,owner_id`, {
      method: "POST",
      headers: { ...headers, Prefer: "return=representation" },
      body: JSON.stringify({ body: (await req.json()).body }),
    })
    : await fetch(`${notes}?select=body,owner_id&order=id`, { headers });
  return new Response(await answer.text(), {
    status: answer.status,
    headers: { "Content-Type": "application/json" },
  });
});
