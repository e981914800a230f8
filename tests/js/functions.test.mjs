// Functions (/functions/v1) through supabase-js's functions.invoke: mirrors
// tests/localbase/functions (whoami, fail and public-ping live in tests/localbase/project).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { FunctionsHttpError, FunctionsRelayError, FunctionsFetchError } from '@supabase/supabase-js'
import { anon, service, signedInUser, URL } from './env.mjs'

test('invoke runs as the caller and returns its JSON', async () => {
  const { client: c, user } = await signedInUser()
  const { data, error } = await c.functions.invoke('whoami', { body: { x: 1 } })
  assert.equal(error, null)
  assert.deepEqual(data, { caller: { role: 'authenticated', uid: user.id, current_user: 'authenticated' },
    echo: { x: 1 } })

  const asAnon = await anon().functions.invoke('whoami', { body: {} })
  assert.equal(asAnon.error, null)
  assert.equal(asAnon.data.caller.role, 'anon')

  const asService = await service().functions.invoke('whoami')
  assert.equal(asService.error, null)
  assert.equal(asService.data.caller.role, 'service_role')
})

test('methods, binary bodies, extra headers and a region all reach the function', async () => {
  const c = anon()
  for (const [options, echo] of [
    [{ method: 'PUT', body: { a: 2 } }, { a: 2 }],
    [{ method: 'DELETE' }, {}],
    [{ body: new Blob(['{"a":1}']) }, { a: 1 }],
    [{ body: { a: 3 }, region: 'us-east-1', headers: { 'x-custom': '1' } }, { a: 3 }],
  ]) {
    const { data, error } = await c.functions.invoke('whoami', options)
    assert.equal(error, null, JSON.stringify(options))
    assert.deepEqual(data.echo, echo)
  }
})

test('a text response comes back as text; GET works', async () => {
  const { data, error } = await anon().functions.invoke('public-ping', { method: 'GET' })
  assert.equal(error, null)
  assert.equal(data, 'pong')
})

test('an error status is a FunctionsHttpError whose context is the response', async () => {
  const { data, error, response } = await anon().functions.invoke('whoami', { body: { boom: true } })
  assert.equal(data, null)
  assert.ok(error instanceof FunctionsHttpError)
  assert.ok(!(error instanceof FunctionsRelayError) && !(error instanceof FunctionsFetchError))
  assert.equal(error.context.status, 400)
  assert.deepEqual(await error.context.json(), { error: 'bad input: boom', field: 'boom' })
  assert.equal(response.status, 400)

  const failed = await anon().functions.invoke('fail', { body: {} })
  assert.ok(failed.error instanceof FunctionsHttpError)
  assert.equal(failed.error.context.status, 500)
  const body = await failed.error.context.json()
  // Supabase's generic words; the error itself goes to the server log only
  assert.equal(body.code, 'WORKER_ERROR')
  assert.equal(body.message, 'Function exited due to an error (please check logs)')
  assert.doesNotMatch(JSON.stringify(body), /deliberate failure/)

  const missing = await anon().functions.invoke('no-such-function', { body: {} })
  assert.ok(missing.error instanceof FunctionsHttpError)
  assert.equal(missing.error.context.status, 404)
})

test('the JWT is verified unless the function opts out', async () => {
  const noAuth = await fetch(`${URL}/functions/v1/whoami`, { method: 'POST', body: '{}' })
  assert.equal(noAuth.status, 401)
  const bad = await anon().functions.invoke('whoami', { headers: { Authorization: 'Bearer nonsense' } })
  assert.ok(bad.error instanceof FunctionsHttpError)
  assert.equal(bad.error.context.status, 401)
  const open = await fetch(`${URL}/functions/v1/public-ping`)
  assert.equal(open.status, 200)
  assert.equal(await open.text(), 'pong')
})
