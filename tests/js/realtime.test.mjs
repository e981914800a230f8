// Realtime (/realtime/v1/websocket) through supabase-js's channels: postgres_changes checked by
// RLS, broadcast and presence. Mirrors tests/localbase/realtime. Needs `notes` in the publication
// supabase_realtime with replica identity full (the pytest bridge sets it up).
import { test, describe, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { anon, service, signedInUser, subscribed, waitFor } from './env.mjs'

const opened = []
const track = (c) => { opened.push(c); return c }
after(async () => {
  // removeAllChannels() leaves and disconnects (supabase-js keeps a 10 s timer after a disconnect:
  // the bridge runs node with --test-force-exit)
  await Promise.all(opened.map((c) => c.removeAllChannels()))
})
const topic = () => `room-${randomUUID().slice(0, 8)}`
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

describe('postgres_changes', () => {
  test('a signed-in user receives only their own rows; the service role all of them', async () => {
    const ada = await signedInUser()
    const bob = await signedInUser()
    const admin = track(service())
    track(ada.client); track(bob.client)
    const got = { ada: [], bob: [], admin: [] }
    const feed = (c, who) => c.channel(`notes-${who}-${topic()}`)
      .on('postgres_changes', { event: 'INSERT', schema: 'public', table: 'notes' }, (p) => got[who].push(p))
    await Promise.all([subscribed(feed(ada.client, 'ada')), subscribed(feed(bob.client, 'bob')),
      subscribed(feed(admin, 'admin'))])

    assert.equal((await ada.client.from('notes').insert({ body: 'from ada' })).error, null)
    assert.equal((await bob.client.from('notes').insert({ body: 'from bob' })).error, null)
    const mine = (rows) => rows.filter((p) => [ada.user.id, bob.user.id].includes(p.new.owner_id))
    await waitFor(() => got.ada.length >= 1 && got.bob.length >= 1 && mine(got.admin).length >= 2,
      'the inserts to arrive')
    await sleep(300) // nothing more is on its way
    assert.deepEqual(got.ada.map((p) => p.new.body), ['from ada'])
    assert.deepEqual(got.bob.map((p) => p.new.body), ['from bob'])
    assert.deepEqual(mine(got.admin).map((p) => p.new.body), ['from ada', 'from bob'])

    const p = got.ada[0]
    assert.equal(p.eventType, 'INSERT')
    assert.equal(p.schema, 'public')
    assert.equal(p.table, 'notes')
    assert.equal(p.new.owner_id, ada.user.id)
    assert.equal(typeof p.new.id, 'number')
    assert.deepEqual(p.old, {})
    assert.ok(!Number.isNaN(Date.parse(p.commit_timestamp)))
    assert.equal(p.errors, null)
  })

  test('UPDATE and DELETE with old records, a filter, and event "*"', async () => {
    const ada = track((await signedInUser()).client)
    const { data: { user } } = await ada.auth.getUser()
    const all = []
    const filtered = []
    await subscribed(ada.channel(`all-${topic()}`)
      .on('postgres_changes', { event: '*', schema: 'public', table: 'notes' }, (p) => all.push(p)))
    await subscribed(ada.channel(`filtered-${topic()}`)
      .on('postgres_changes', { event: 'UPDATE', schema: 'public', table: 'notes', filter: 'body=eq.second' },
        (p) => filtered.push(p)))

    const { data: row } = await ada.from('notes').insert({ body: 'first' }).select().single()
    await ada.from('notes').update({ body: 'second' }).eq('id', row.id)
    await ada.from('notes').update({ body: 'third' }).eq('id', row.id)
    await ada.from('notes').delete().eq('id', row.id)
    await waitFor(() => all.length >= 4, 'four changes')
    assert.deepEqual(all.map((p) => p.eventType), ['INSERT', 'UPDATE', 'UPDATE', 'DELETE'])
    // RLS applies to a signed-in user: the old record is the primary key only (as Supabase documents)
    assert.deepEqual(all[1].old, { id: row.id })
    assert.deepEqual(all[1].new.body, 'second')
    assert.deepEqual(all[1].new.owner_id, user.id)
    assert.deepEqual(all[3].old, { id: row.id })
    assert.deepEqual(all[3].new, {})
    await waitFor(() => filtered.length >= 1, 'the filtered update')
    await sleep(200)
    assert.deepEqual(filtered.map((p) => p.new.body), ['second'])
  })

  test('a note handed to another user never shows them its previous contents', async () => {
    // the threat of issue 12: an UPDATE that moves a row to a user sends that user the old row
    const ada = await signedInUser()
    const bob = await signedInUser()
    const admin = track(service())
    track(ada.client); track(bob.client)
    const toBob = []
    const toAdmin = []
    await subscribed(bob.client.channel(`handover-${topic()}`)
      .on('postgres_changes', { event: '*', schema: 'public', table: 'notes' }, (p) => toBob.push(p)))
    await subscribed(admin.channel(`handover-admin-${topic()}`)
      .on('postgres_changes', { event: 'UPDATE', schema: 'public', table: 'notes', filter: `owner_id=eq.${bob.user.id}` },
        (p) => toAdmin.push(p)))
    const { data: row } = await ada.client.from('notes').insert({ body: 'ada only' }).select().single()
    const moved = await admin.from('notes').update({ owner_id: bob.user.id, body: 'now bob\'s' }).eq('id', row.id)
    assert.equal(moved.error, null)
    await waitFor(() => toBob.length >= 1 && toAdmin.length >= 1, 'the hand-over')
    await sleep(300)
    assert.deepEqual(toBob.map((p) => p.eventType), ['UPDATE'])
    assert.deepEqual(toBob[0].new.body, "now bob's")
    assert.deepEqual(toBob[0].old, { id: row.id })
    assert.ok(!JSON.stringify(toBob).includes('ada only'))
    assert.deepEqual(toAdmin[0].old.body, 'ada only') // the service role bypasses RLS: the whole old row
  })

  test('the system message confirms the subscription; a refreshed token keeps it going', async () => {
    const { client: c } = await signedInUser()
    track(c)
    const system = []
    const got = []
    await subscribed(c.channel(`refresh-${topic()}`)
      .on('system', {}, (m) => system.push(m))
      .on('postgres_changes', { event: 'INSERT', schema: 'public', table: 'notes' }, (p) => got.push(p)))
    await waitFor(() => system.length >= 1, 'the system message')
    assert.equal(system[0].extension, 'postgres_changes')
    assert.equal(system[0].status, 'ok')

    const { data, error } = await c.auth.refreshSession()
    assert.equal(error, null)
    assert.equal(c.realtime.accessTokenValue, data.session.access_token)
    await c.from('notes').insert({ body: 'after refresh' })
    await waitFor(() => got.length === 1, 'the change after the refresh')
    assert.equal(got[0].new.body, 'after refresh')
  })

  test('an anon subscriber sees no RLS-protected rows', async () => {
    const nobody = track(anon())
    const got = []
    await subscribed(nobody.channel(`anon-${topic()}`)
      .on('postgres_changes', { event: 'INSERT', schema: 'public', table: 'notes' }, (p) => got.push(p)))
    const ada = track((await signedInUser()).client)
    await ada.from('notes').insert({ body: 'private' })
    await sleep(500)
    assert.deepEqual(got, [])
  })

  test('a binding without a schema subscribes (the reply echoes it as sent) and watches public', async () => {
    const admin = track(service())
    const got = []
    await subscribed(admin.channel(`no-schema-${topic()}`)
      .on('postgres_changes', { event: 'INSERT', table: 'notes' }, (p) => got.push(p)))
    const ada = track((await signedInUser()).client)
    await ada.from('notes').insert({ body: 'schema-less binding' })
    await waitFor(() => got.some((p) => p.new.body === 'schema-less binding'), 'the insert')
    assert.equal(got.find((p) => p.new.body === 'schema-less binding').schema, 'public')
  })

  test('an unknown column in a filter fails the subscription', async () => {
    const c = track(anon())
    const channel = c.channel(`bad-${topic()}`)
      .on('postgres_changes', { event: '*', schema: 'public', table: 'notes', filter: 'nope=eq.1' }, () => {})
    await assert.rejects(subscribed(channel))
  })
})

describe('broadcast', () => {
  test('self: true echoes to the sender; ack: true confirms', async () => {
    const c = track(anon())
    const got = []
    const channel = c.channel(topic(), { config: { broadcast: { self: true, ack: true } } })
      .on('broadcast', { event: 'ping' }, (m) => got.push(m))
    await subscribed(channel)
    assert.equal(await channel.send({ type: 'broadcast', event: 'ping', payload: { n: 1 } }), 'ok')
    await waitFor(() => got.length === 1, 'the echo')
    assert.equal(got[0].event, 'ping')
    assert.deepEqual(got[0].payload, { n: 1 })
    assert.equal(got[0].type, 'broadcast')
  })

  test('between two clients, not back to the sender by default', async () => {
    const name = topic()
    const a = track(anon())
    const b = track(anon())
    const gotA = []
    const gotB = []
    const chA = a.channel(name).on('broadcast', { event: 'cursor' }, (m) => gotA.push(m))
    const chB = b.channel(name).on('broadcast', { event: '*' }, (m) => gotB.push(m))
    await subscribed(chA)
    await subscribed(chB)
    assert.equal(await chA.send({ type: 'broadcast', event: 'cursor', payload: { x: 1, y: 2, who: 'é✓' } }), 'ok')
    await waitFor(() => gotB.length === 1, 'the broadcast on the other client')
    assert.deepEqual(gotB[0].payload, { x: 1, y: 2, who: 'é✓' })
    await sleep(200)
    assert.deepEqual(gotA, [])
  })

  test('httpSend reaches subscribers over REST', async () => {
    const name = topic()
    const listener = track(anon())
    const got = []
    await subscribed(listener.channel(name).on('broadcast', { event: 'news' }, (m) => got.push(m)))
    const sender = track(anon())
    const result = await sender.channel(name).httpSend('news', { n: 2 })
    assert.deepEqual(result, { success: true })
    await waitFor(() => got.length === 1, 'the REST broadcast')
    assert.deepEqual(got[0].payload, { n: 2 })
  })

  test('httpSend with binary data (application/octet-stream) arrives as an ArrayBuffer', async () => {
    const name = topic()
    const listener = track(anon())
    const got = []
    await subscribed(listener.channel(name).on('broadcast', { event: 'blob' }, (m) => got.push(m)))
    const bytes = new Uint8Array([0, 1, 2, 250, 255])
    const result = await track(anon()).channel(name).httpSend('blob', bytes)
    assert.deepEqual(result, { success: true })
    await waitFor(() => got.length === 1, 'the binary broadcast')
    assert.ok(got[0].payload instanceof ArrayBuffer)
    assert.deepEqual([...new Uint8Array(got[0].payload)], [0, 1, 2, 250, 255])
  })
})

describe('presence', () => {
  test('track, sync, join and leave between two clients', async () => {
    const name = topic()
    const a = track(anon())
    const b = track(anon())
    const chA = a.channel(name, { config: { presence: { key: 'alice' } } })
    const joins = []
    const leaves = []
    let syncs = 0
    const chB = b.channel(name, { config: { presence: { key: 'bob' } } })
      .on('presence', { event: 'sync' }, () => { syncs += 1 })
      .on('presence', { event: 'join' }, (e) => joins.push(e))
      .on('presence', { event: 'leave' }, (e) => leaves.push(e))
    chA.on('presence', { event: 'sync' }, () => {})
    await subscribed(chA)
    await subscribed(chB)
    assert.equal(await chA.track({ status: 'online' }), 'ok')
    assert.equal(await chB.track({ status: 'away' }), 'ok')
    await waitFor(() => Object.keys(chB.presenceState()).length === 2, 'both members in B\'s state')
    await waitFor(() => Object.keys(chA.presenceState()).length === 2, 'both members in A\'s state')
    const state = chB.presenceState()
    assert.deepEqual(state.alice.map((m) => m.status), ['online'])
    assert.deepEqual(state.bob.map((m) => m.status), ['away'])
    assert.ok(state.alice[0].presence_ref)
    assert.ok(syncs >= 1)
    assert.ok(joins.some((e) => e.key === 'alice' && e.newPresences[0].status === 'online'))

    // tracking again replaces the meta
    await chA.track({ status: 'busy' })
    await waitFor(() => chB.presenceState().alice?.[0]?.status === 'busy', 'the new meta')
    assert.equal(chB.presenceState().alice.length, 1)

    assert.equal(await chA.untrack(), 'ok')
    await waitFor(() => !chB.presenceState().alice, 'alice to leave')
    assert.ok(leaves.some((e) => e.key === 'alice'))
  })

  test('without a key, the server gives the member one', async () => {
    const c = track(anon())
    const channel = c.channel(topic()).on('presence', { event: 'sync' }, () => {})
    await subscribed(channel)
    await channel.track({ a: 1 })
    await waitFor(() => Object.keys(channel.presenceState()).length === 1, 'the member')
    const [key] = Object.keys(channel.presenceState())
    assert.ok(key.length > 0)
  })

  test('a client that goes away leaves', async () => {
    const name = topic()
    const a = anon()
    const b = track(anon())
    const chA = a.channel(name, { config: { presence: { key: 'gone' } } })
    const chB = b.channel(name).on('presence', { event: 'sync' }, () => {})
    await subscribed(chA)
    await subscribed(chB)
    await chA.track({ here: true })
    await waitFor(() => chB.presenceState().gone, 'the member')
    a.realtime.disconnect()
    await waitFor(() => !chB.presenceState().gone, 'the member to leave')
  })
})

describe('private channels', () => {
  test('RLS on realtime.messages decides who joins, and private broadcasts reach private members', async () => {
    const name = `js-private:${randomUUID().slice(0, 8)}`
    const refused = await new Promise((resolve) => {
      track(anon()).channel(name, { config: { private: true } })
        .subscribe((status, err) => { if (status === 'CHANNEL_ERROR') resolve(err) })
    })
    assert.match(String(refused?.message ?? refused), /You do not have permissions to read from this Channel topic/)

    const a = await signedInUser()
    const b = await signedInUser()
    track(a.client)
    track(b.client)
    const got = []
    const gotPublic = []
    const chA = await subscribed(a.client.channel(name, { config: { private: true, broadcast: { ack: true } } }))
    await subscribed(b.client.channel(name, { config: { private: true } })
      .on('broadcast', { event: 'hi' }, (m) => got.push(m)))
    await subscribed(track(anon()).channel(name).on('broadcast', { event: 'hi' }, (m) => gotPublic.push(m)))
    assert.equal(await chA.send({ type: 'broadcast', event: 'hi', payload: { n: 1 } }), 'ok')
    await waitFor(() => got.length === 1, 'the private broadcast')
    assert.deepEqual(got[0].payload, { n: 1 })
    await sleep(300)
    assert.equal(gotPublic.length, 0) // a public channel of the same name is another channel
  })
})
