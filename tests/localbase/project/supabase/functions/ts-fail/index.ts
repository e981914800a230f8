// A handler that throws: the caller gets a 500 (FunctionsHttpError), the stack goes to the log.
Deno.serve((_req: Request): Response => {
  throw new Error("deliberate failure in TypeScript");
});
