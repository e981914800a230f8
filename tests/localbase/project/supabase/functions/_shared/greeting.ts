// Code shared between functions lives in supabase/functions/_shared/, imported by relative path.
export function greeting(name: string): string {
  return `Hello ${name}!`;
}
