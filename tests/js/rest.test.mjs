// REST (/rest/v1) through supabase-js's query builder: mirrors tests/localbase/rest.
import { test, describe, after } from 'node:test'
import assert from 'node:assert/strict'
import { anon, service, unique } from './env.mjs'

const db = anon()
const admin = service()

describe('select', () => {
  test('columns, filters and order', async () => {
    const { data, error, status } = await db.from('countries').select('name, code')
      .eq('continent', 'Europe').order('name', { ascending: false })
    assert.equal(error, null)
    assert.equal(status, 200)
    assert.deepEqual(data, [{ name: 'Germany', code: 'DE' }, { name: 'France', code: 'FR' }])
  })

  test('more filters: in, gt, like, is, not, or, contains, json path', async () => {
    const names = async (q) => {
      const { data, error } = await q.order('name')
      assert.equal(error, null)
      return data.map((r) => r.name)
    }
    const cities = () => db.from('cities').select('name')
    assert.deepEqual(await names(cities().in('name', ['Paris', 'Lyon', 'Rome'])), ['Lyon', 'Paris'])
    assert.deepEqual(await names(cities().gt('population', 3000000)), ['Berlin', 'Nairobi', 'Tokyo'])
    assert.deepEqual(await names(cities().ilike('name', 'to%')), ['Tokyo', 'Toulouse'])
    assert.deepEqual(await names(cities().is('population', null)), ['Toulouse'])
    assert.deepEqual(await names(cities().not('population', 'is', null).lt('population', 2500000)),
      ['Lyon', 'Paris'])
    assert.deepEqual(await names(cities().or('name.eq.Lyon,population.gt.10000000')), ['Lyon', 'Tokyo'])
    assert.deepEqual(await names(cities().contains('tags', ['capital', 'coastal'])), ['Tokyo'])
    assert.deepEqual(await names(cities().eq('data->>rank', '1')), ['Paris', 'Tokyo'])
    const fts = await db.from('articles').select('title').textSearch('fts', 'quick & fox')
    assert.deepEqual(fts.data, [{ title: 'Cats and dogs' }])
    const web = await db.from('articles').select('title').textSearch('fts', 'powerful database', { type: 'websearch', config: 'english' })
    assert.deepEqual(web.data, [{ title: 'Databases' }])
  })

  test('embedding: one-to-many, many-to-one, many-to-many, aliases and !inner', async () => {
    let { data, error } = await db.from('countries').select('name, cities(name)')
      .eq('code', 'JP').order('name', { referencedTable: 'cities' })
    assert.equal(error, null)
    assert.deepEqual(data, [{ name: 'Japan', cities: [{ name: 'Osaka' }, { name: 'Tokyo' }] }])

    ;({ data, error } = await db.from('cities').select('name, country:countries(name)').eq('name', 'Lyon'))
    assert.equal(error, null)
    assert.deepEqual(data, [{ name: 'Lyon', country: { name: 'France' } }])

    ;({ data, error } = await db.from('films').select('title, actors(name)')
      .eq('year', 1999).order('name', { referencedTable: 'actors' }))
    assert.equal(error, null)
    assert.deepEqual(data, [{ title: 'The Matrix',
      actors: [{ name: 'Carrie-Anne' }, { name: 'Keanu' }, { name: 'Laurence' }] }])

    ;({ data, error } = await db.from('messages').select('body, from:people!sender_id(name), to:people!receiver_id(name)')
      .order('id').limit(1))
    assert.equal(error, null)
    assert.deepEqual(data, [{ body: 'hi Bob', from: { name: 'Ann' }, to: { name: 'Bob' } }])

    ;({ data, error } = await db.from('countries').select('name, cities!inner(name)')
      .eq('cities.name', 'Berlin'))
    assert.equal(error, null)
    assert.deepEqual(data, [{ name: 'Germany', cities: [{ name: 'Berlin' }] }])

    ;({ data, error } = await db.from('countries').select('name, cities(name)').is('cities', null))
    assert.equal(error, null)
    assert.deepEqual(data, [{ name: 'Brazil', cities: [] }])
    ;({ data, error } = await db.from('countries').select('name, cities(name)').not('cities', 'is', null)
      .in('code', ['BR', 'KE']))
    assert.equal(error, null)
    assert.deepEqual(data, [{ name: 'Kenya', cities: [{ name: 'Nairobi' }] }])
  })

  test('counting referenced rows: rel(count)', async () => {
    const { data, error } = await db.from('countries').select('name, cities(count)')
      .in('code', ['FR', 'BR']).order('name')
    assert.equal(error, null)
    assert.deepEqual(data, [{ name: 'Brazil', cities: [{ count: 0 }] }, { name: 'France', cities: [{ count: 3 }] }])
  })

  test('range and count', async () => {
    const { data, count, error, status } = await db.from('cities')
      .select('name', { count: 'exact' }).order('id').range(1, 2)
    assert.equal(error, null)
    assert.equal(status, 206)
    assert.equal(count, 7)
    assert.deepEqual(data.map((r) => r.name), ['Lyon', 'Berlin'])

    const head = await db.from('countries').select('*', { count: 'exact', head: true })
    assert.equal(head.error, null)
    assert.equal(head.count, 5)
    assert.equal(head.data, null)

    const limited = await db.from('cities').select('name').order('name').limit(2)
    assert.deepEqual(limited.data.map((r) => r.name), ['Berlin', 'Lyon'])
  })

  test('single and maybeSingle', async () => {
    const one = await db.from('countries').select('name').eq('code', 'FR').single()
    assert.equal(one.error, null)
    assert.deepEqual(one.data, { name: 'France' })

    const none = await db.from('countries').select('name').eq('code', 'XX').single()
    assert.equal(none.data, null)
    assert.equal(none.status, 406)
    assert.equal(none.error.code, 'PGRST116')

    const many = await db.from('countries').select('name').eq('continent', 'Europe').single()
    assert.equal(many.status, 406)
    assert.equal(many.error.code, 'PGRST116')

    const maybeNone = await db.from('countries').select('name').eq('code', 'XX').maybeSingle()
    assert.equal(maybeNone.error, null)
    assert.equal(maybeNone.data, null)

    const maybeOne = await db.from('countries').select('name').eq('code', 'KE').maybeSingle()
    assert.equal(maybeOne.error, null)
    assert.deepEqual(maybeOne.data, { name: 'Kenya' })

    const maybeMany = await db.from('countries').select('name').eq('continent', 'Europe').maybeSingle()
    assert.equal(maybeMany.error.code, 'PGRST116')
    assert.equal(maybeMany.data, null)
  })

  test('errors carry PostgREST codes', async () => {
    const table = await db.from('no_such_table').select()
    assert.equal(table.status, 404)
    assert.equal(table.error.code, 'PGRST205')

    const column = await db.from('countries').select('nope')
    assert.equal(column.status, 400)
    assert.equal(column.error.code, '42703')

    const relation = await db.from('countries').select('name, films(title)')
    assert.equal(relation.status, 400)
    assert.equal(relation.error.code, 'PGRST200')

    await assert.rejects(async () => db.from('no_such_table').select().throwOnError(), (e) => e.code === 'PGRST205')
  })

  test('computed fields: a function of the row reads as a column', async () => {
    const { data, error } = await db.from('countries').select('name, label').eq('label', 'Japan (JP)')
    assert.equal(error, null)
    assert.deepEqual(data, [{ name: 'Japan', label: 'Japan (JP)' }])
  })

  test('csv() answers text/csv as PostgREST writes it', async () => {
    const { data, error, status } = await db.from('cities').select('name, tags').in('name', ['Paris', 'Toulouse'])
      .order('name').csv()
    assert.equal(error, null)
    assert.equal(status, 200)
    assert.equal(data, 'name,tags\nParis,"{capital,big}"\nToulouse,{}')
  })

  test('GeoJSON without PostGIS, and plans unless enabled, are refused (406), not answered as JSON', async () => {
    const geo = await db.from('countries').select('code').geojson()
    assert.equal(geo.status, 406)
    assert.equal(geo.error.code, 'PGRST107')
    const plan = await db.from('countries').select('code').explain()
    assert.equal(plan.status, 406)
  })

  test('modifiers: nullsFirst, referenced-table limit, stripNulls, abortSignal', async () => {
    const first = await db.from('cities').select('name').order('population', { nullsFirst: true }).limit(1)
    assert.deepEqual(first.data, [{ name: 'Toulouse' }])
    const { data } = await db.from('countries').select('name, cities(name)').eq('code', 'FR')
      .order('name', { referencedTable: 'cities' }).limit(1, { referencedTable: 'cities' })
    assert.deepEqual(data, [{ name: 'France', cities: [{ name: 'Lyon' }] }])
    const stripped = await db.from('cities').select('name, population').eq('name', 'Toulouse').stripNulls()
    assert.deepEqual(stripped.data, [{ name: 'Toulouse' }])
    const aborted = await db.from('cities').select('name').abortSignal(AbortSignal.abort())
    assert.ok(aborted.error)
  })

  test('other schemas with .schema()', async () => {
    const { data, error } = await db.schema('inventory').from('parts').select('name, stock').order('id')
    assert.equal(error, null)
    assert.deepEqual(data.slice(0, 2), [{ name: 'bolt', stock: 100 }, { name: 'nut', stock: 0 }])
  })
})

describe('write', () => {
  const sku = unique('sku')
  after(async () => { await admin.from('items').delete().like('sku', `${sku}%`) })

  test('insert returns the rows with select(), nothing without', async () => {
    const { data, error, status } = await db.from('items')
      .insert([{ sku: `${sku}-a`, name: 'A', qty: 2, price: 9.5 }, { sku: `${sku}-b`, name: 'B' }],
        { defaultToNull: false })
      .select('sku, name, qty, price')
    assert.equal(error, null)
    assert.equal(status, 201)
    assert.deepEqual(data, [{ sku: `${sku}-a`, name: 'A', qty: 2, price: 9.5 },
      { sku: `${sku}-b`, name: 'B', qty: 1, price: null }])

    // Bulk insert sends the union of the keys: a missing one is NULL unless defaultToNull is false.
    const nulls = await db.from('items').insert([{ sku: `${sku}-n1`, name: 'N', qty: 3 }, { sku: `${sku}-n2`, name: 'N' }])
    assert.equal(nulls.status, 400)
    assert.equal(nulls.error.code, '23502')

    const bare = await db.from('items').insert({ sku: `${sku}-c`, name: 'C' })
    assert.equal(bare.error, null)
    assert.equal(bare.status, 201)
    assert.equal(bare.data, null)

    const single = await db.from('items').insert({ sku: `${sku}-d`, name: 'D' }).select('sku').single()
    assert.deepEqual(single.data, { sku: `${sku}-d` })
  })

  test('constraint violations come back as errors', async () => {
    const dup = await db.from('items').insert({ sku: `${sku}-a`, name: 'again' })
    assert.equal(dup.status, 409)
    assert.equal(dup.error.code, '23505')

    const check = await db.from('items').insert({ sku: `${sku}-neg`, name: 'neg', qty: -1 })
    assert.equal(check.status, 400)
    assert.equal(check.error.code, '23514')

    const missing = await db.from('items').insert({ sku: `${sku}-x`, name: 'x', nope: 1 })
    assert.equal(missing.status, 400)
    assert.equal(missing.error.code, 'PGRST204')
  })

  test('upsert merges on conflict, or ignores duplicates', async () => {
    let { data, error } = await db.from('items')
      .upsert({ sku: `${sku}-a`, name: 'A2', qty: 7 }, { onConflict: 'sku' }).select('sku, name, qty')
    assert.equal(error, null)
    assert.deepEqual(data, [{ sku: `${sku}-a`, name: 'A2', qty: 7 }])

    ;({ data, error } = await db.from('items')
      .upsert([{ sku: `${sku}-a`, name: 'ignored' }, { sku: `${sku}-e`, name: 'E' }],
        { onConflict: 'sku', ignoreDuplicates: true }).select('sku, name'))
    assert.equal(error, null)
    assert.deepEqual(data, [{ sku: `${sku}-e`, name: 'E' }])

    ;({ data } = await db.from('items').select('name').eq('sku', `${sku}-a`).single())
    assert.equal(data.name, 'A2')
  })

  test('update and delete with filters, counted', async () => {
    let { data, error, count } = await db.from('items').update({ qty: 0 }, { count: 'exact' })
      .like('sku', `${sku}-%`).lte('qty', 1).select('sku').order('sku')
    assert.equal(error, null)
    assert.deepEqual(data.map((r) => r.sku), [`${sku}-b`, `${sku}-c`, `${sku}-d`, `${sku}-e`])
    assert.equal(count, 4)

    ;({ data, error } = await db.from('items').delete().eq('sku', `${sku}-b`).select('sku, qty'))
    assert.equal(error, null)
    assert.deepEqual(data, [{ sku: `${sku}-b`, qty: 0 }])

    const bare = await db.from('items').delete().eq('sku', `${sku}-c`)
    assert.equal(bare.error, null)
    assert.equal(bare.status, 204)

    const left = await db.from('items').select('sku', { count: 'exact', head: true }).like('sku', `${sku}-%`)
    assert.equal(left.count, 3)
  })

  test('maxAffected refuses (and rolls back) a wider update or delete', async () => {
    const wide = await db.from('items').update({ qty: 9 }).like('sku', `${sku}-%`).maxAffected(1).select('sku')
    assert.equal(wide.status, 400)
    assert.equal(wide.error.code, 'PGRST124')
    const untouched = await db.from('items').select('sku').like('sku', `${sku}-%`).eq('qty', 9)
    assert.deepEqual(untouched.data, [])
    const gone = await db.from('items').delete().like('sku', `${sku}-%`).maxAffected(2)
    assert.equal(gone.error.code, 'PGRST124')
    const one = await db.from('items').update({ qty: 9 }).eq('sku', `${sku}-a`).maxAffected(1).select('qty')
    assert.equal(one.error, null)
    assert.deepEqual(one.data, [{ qty: 9 }])
  })

  test('a limited update or delete needs an explicit order and changes only those rows (PostgREST 12)', async () => {
    const tag = `${sku}-lim`
    await db.from('items').insert([1, 2, 3].map((n) => ({ sku: `${tag}-${n}`, name: tag, qty: n })))
    const unordered = await db.from('items').update({ qty: 0 }).eq('name', tag).limit(1)
    assert.equal(unordered.status, 400)
    assert.equal(unordered.error.code, 'PGRST109')
    const first = await db.from('items').update({ qty: 0 }).eq('name', tag).order('sku').limit(1).select('sku')
    assert.equal(first.error, null)
    assert.deepEqual(first.data, [{ sku: `${tag}-1` }])
    const wide = await db.from('items').delete().eq('name', tag).order('name').limit(1)
    assert.equal(wide.status, 400)
    assert.equal(wide.error.code, 'PGRST110')
    const left = await db.from('items').select('qty').eq('name', tag).order('sku')
    assert.deepEqual(left.data.map((r) => r.qty), [0, 2, 3])
  })
})

describe('rpc', () => {
  test('scalar, defaults, JSON and void', async () => {
    assert.deepEqual(await db.rpc('add_them', { a: 2, b: 3 }).then((r) => [r.data, r.error]), [5, null])
    assert.deepEqual(await db.rpc('hello').then((r) => [r.data, r.error]), ['hello world', null])
    assert.deepEqual(await db.rpc('hello', { name: 'js' }, { get: true }).then((r) => r.data), 'hello js')
    const echo = await db.rpc('echo', { payload: { a: [1, 2], b: null } })
    assert.deepEqual(echo.data, { a: [1, 2], b: null })
    const none = await db.rpc('touch_nothing')
    assert.equal(none.error, null)
    assert.equal(none.status, 204)
    assert.equal(none.data, null)
  })

  test('set-returning functions take filters, order, range and count', async () => {
    const { data, error, count } = await db.rpc('cities_named', { pattern: '%o%' }, { count: 'exact' })
      .select('name').gt('population', 1000000).lt('population', 5000000).order('name')
    assert.equal(error, null)
    assert.deepEqual(data.map((r) => r.name), ['Nairobi', 'Osaka'])
    assert.equal(count, 2)
    const nums = await db.rpc('numbers', { n: 5 }).range(1, 2)
    assert.deepEqual(nums.data, [2, 3])
    const stats = await db.rpc('continent_stats').eq('continent', 'Europe').single()
    assert.deepEqual(stats.data, { continent: 'Europe', countries: 2 })
  })

  test('errors raised in SQL reach the client with code, details and hint', async () => {
    const { error, status } = await db.rpc('fail_with', { code: 'P0001', msg: 'nope' })
    assert.equal(status, 400)
    assert.deepEqual({ ...error }, { code: 'P0001', message: 'nope', details: 'some detail', hint: 'some hint' })
    const missing = await db.rpc('no_such_function')
    assert.equal(missing.status, 404)
    assert.equal(missing.error.code, 'PGRST202')
  })

  test('roles: anon, service_role', async () => {
    assert.deepEqual((await db.rpc('whoami')).data, { role: 'anon', uid: null, current_user: 'anon' })
    assert.deepEqual((await admin.rpc('whoami')).data,
      { role: 'service_role', uid: null, current_user: 'service_role' })
    const secrets = await db.from('secrets').select()
    assert.equal(secrets.status, 401)
    assert.equal(secrets.error.code, '42501')
    assert.equal((await admin.from('secrets').select('value').order('id')).data.length, 2)
  })
})

// What the postgrest-js suite checks of PostgREST itself (issue 13); mirrors tests/localbase/rest.
describe('PostgREST semantics the postgrest-js suite checks', () => {
  test('functions: one unnamed parameter takes the body, overloads and one-row results as PostgREST', async () => {
    assert.equal((await db.rpc('json_keys', { a: 1, b: 2 })).data, 2)
    assert.equal((await db.rpc('pick')).data, 'none')
    const twin = await db.rpc('twin', { a: 'x' })
    assert.equal(twin.status, 300)
    assert.equal(twin.error.message,
      'Could not choose the best candidate function between: public.twin(a => integer), public.twin(a => text)')
    const typo = await db.rpc('add_thme', { a: 1, b: 2 })
    assert.equal(typo.error.hint, 'Perhaps you meant to call the function public.add_them')
    const country = await db.rpc('country_by_code', { c: 'KE' }).select('name')
    assert.deepEqual(country.data, { name: 'Kenya' })
    const counted = await db.rpc('add_them', { a: 2, b: 2 }, { count: 'exact' })
    assert.deepEqual([counted.data, counted.count], [4, 1])
  })

  test('upsert answers 200 when it only updates, 201 when it inserts; missing=default fills identities', async () => {
    const label = unique('tally')
    assert.equal((await admin.from('tallies').upsert({ label, n: 1 }, { onConflict: 'label' })).status, 201)
    assert.equal((await admin.from('tallies').upsert({ label, n: 2 }, { onConflict: 'label' })).status, 200)
    const { data, error } = await admin.from('tallies')
      .insert([{ label: unique('tally'), n: 3 }, { label: unique('tally') }], { defaultToNull: false }).select('id, n')
    assert.equal(error, null)
    assert.equal(data[1].n, 0)
    assert.ok(Number.isInteger(data[0].id) && data[1].id === data[0].id + 1)
  })

  test('embeds: self-references, constraint names, empty embeds, ambiguity, to-many spreads', async () => {
    const root = await db.from('folders').select('name, folders(name), parent_id(name)').eq('id', 2).single()
    assert.deepEqual(root.data, { name: 'docs', folders: [{ name: 'letters' }], parent_id: { name: 'root' } })
    const sent = await db.from('people').select('name, sent:messages_sender_id_fkey(body)').eq('id', 2).single()
    assert.deepEqual(sent.data, { name: 'Bob', sent: [{ body: 'hi Ann' }] })
    const filtered = await db.from('countries').select('name, cities!inner()').eq('cities.name', 'Osaka')
    assert.deepEqual(filtered.data, [{ name: 'Japan' }])
    const ambiguous = await db.from('people').select('name, messages(body)')
    assert.equal(ambiguous.error.code, 'PGRST201')
    assert.deepEqual(ambiguous.error.details.map((d) => d.relationship), [
      'messages_receiver_id_fkey using people(id) and messages(receiver_id)',
      'messages_sender_id_fkey using people(id) and messages(sender_id)'])
    const spread = await db.from('countries').select('name, ...cities(city:name)').eq('code', 'DE')
    assert.deepEqual(spread.data, [{ name: 'Germany', city: ['Berlin'] }])
  })
})
