// The new API key format through supabase-js: a client built on the publishable key
// (sb_publishable_..., the anon role) or the secret key (sb_secret_..., service_role) - REST,
// Auth and Realtime, with the key sent as supabase-js sends it (apikey, and the Bearer fallback).
import { test, describe, after } from 'node:test'
import assert from 'node:assert/strict'
import { createClient } from '@supabase/supabase-js'
import { URL, PUBLISHABLE_KEY, SECRET_KEY, client, subscribed, unique, waitFor, PASSWORD } from './env.mjs'

const skip = !PUBLISHABLE_KEY || !SECRET_KEY ? 'SUPABASE_PUBLISHABLE_KEY / SUPABASE_SECRET_KEY not set' : false
const opened = []
after(async () => { await Promise.all(opened.map((c) => c.removeAllChannels())) })

describe('publishable and secret keys', { skip }, () => {
  test('the publishable key is anon; a user signed in through it is that user', async () => {
    const c = client(PUBLISHABLE_KEY)
    assert.equal((await c.rpc('whoami')).data.role, 'anon')
    const { data, error } = await c.from('countries').select('name').limit(1)
    assert.equal(error, null)
    assert.ok(Array.isArray(data))
    const email = `${unique('pk')}@example.com`
    const signUp = await c.auth.signUp({ email, password: PASSWORD })
    assert.equal(signUp.error, null)
    const me = (await c.rpc('whoami')).data
    assert.deepEqual([me.role, me.uid], ['authenticated', signUp.data.user.id])
  })

  test('the secret key is service_role: admin API and RLS bypass', async () => {
    const admin = client(SECRET_KEY)
    assert.equal((await admin.rpc('whoami')).data.role, 'service_role')
    const { data, error } = await admin.auth.admin.listUsers({ page: 1, perPage: 1 })
    assert.equal(error, null)
    assert.ok(Array.isArray(data.users))
  })

  test('realtime joins with the publishable key as its token', async () => {
    const c = client(PUBLISHABLE_KEY)
    opened.push(c)
    const got = []
    const channel = c.channel(unique('pk-room'), { config: { broadcast: { self: true, ack: true } } })
      .on('broadcast', { event: 'ping' }, (m) => got.push(m))
    await subscribed(channel)
    assert.equal(await channel.send({ type: 'broadcast', event: 'ping', payload: { n: 1 } }), 'ok')
    await waitFor(() => got.length === 1, 'the echo')
  })

  test('a key that is not the project\'s is refused', async () => {
    const c = createClient(URL, 'sb_publishable_not-this-projects-key-0000', {
      auth: { persistSession: false, autoRefreshToken: false },
    })
    const { error, status } = await c.from('countries').select('name')
    assert.equal(status, 401)
    assert.match(error.message, /Invalid API key/)
  })
})
