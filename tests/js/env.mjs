// Shared set-up for the supabase-js compatibility suite: clients built from the environment.
import { randomUUID } from 'node:crypto'
import { createClient } from '@supabase/supabase-js'
import WebSocketImpl from 'ws'

export const URL = required('SUPABASE_URL')
export const ANON_KEY = required('SUPABASE_ANON_KEY')
export const SERVICE_ROLE_KEY = required('SUPABASE_SERVICE_ROLE_KEY')
// The new-format keys (sb_publishable_... / sb_secret_...); the tests that need them skip without.
export const PUBLISHABLE_KEY = process.env.SUPABASE_PUBLISHABLE_KEY
export const SECRET_KEY = process.env.SUPABASE_SECRET_KEY

function required(name) {
  const value = process.env[name]
  if (!value) throw new Error(`${name} is not set (run through tests/js/test_supabase_js.py or set it)`)
  return value
}

// Node 20 has no global WebSocket: realtime-js then needs a transport (Node 22+ uses its own).
const transport = globalThis.WebSocket ?? WebSocketImpl

/** A client that keeps its session in memory only, as a server-side script would. */
export function client(key = ANON_KEY, options = {}) {
  return createClient(URL, key, {
    ...options,
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false, ...options.auth },
    realtime: { transport, ...options.realtime },
  })
}

export const anon = () => client(ANON_KEY)
export const service = () => client(SERVICE_ROLE_KEY)

export const unique = (prefix = 'js') => `${prefix}-${randomUUID().slice(0, 8)}`
export const PASSWORD = 'Str0ng-pass!'

/** A new confirmed user, signed in on a client of its own: { client, user, session, email }. */
export async function signedInUser() {
  const email = `${unique('user')}@example.com`
  const c = anon()
  const { data, error } = await c.auth.signUp({ email, password: PASSWORD })
  if (error) throw error
  if (!data.session) {
    const signIn = await c.auth.signInWithPassword({ email, password: PASSWORD })
    if (signIn.error) throw signIn.error
    return { client: c, user: signIn.data.user, session: signIn.data.session, email }
  }
  return { client: c, user: data.user, session: data.session, email }
}

/** Resolves when predicate() is true, polling; rejects after `timeout` ms with `what`. */
export async function waitFor(predicate, what, timeout = 5000) {
  const deadline = Date.now() + timeout
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** Subscribes a channel and resolves once SUBSCRIBED (rejects on CHANNEL_ERROR / TIMED_OUT). */
export function subscribed(channel, timeout = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`channel ${channel.topic} did not subscribe`)), timeout)
    channel.subscribe((status, err) => {
      if (status === 'SUBSCRIBED') { clearTimeout(timer); resolve(channel) }
      else if (status === 'CHANNEL_ERROR' || status === 'TIMED_OUT') {
        clearTimeout(timer)
        reject(err ?? new Error(`channel ${channel.topic}: ${status}`))
      }
    })
  })
}
