// Features behind configuration, through supabase-js (run by tests/js/test_supabase_js.py against a
// server with an ES256 signing key, [auth.oauth_server] enabled and [auth.sms] enable_signup with
// a test OTP): getClaims verifying locally from the JWKS, the OAuth 2.1 client admin API, phone auth.
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { client, service, unique, PASSWORD } from '../env.mjs'

const TEST_PHONE = process.env.TEST_PHONE ?? '15550001111'
const TEST_OTP = process.env.TEST_OTP ?? '123456'
const header = (token) => JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString())
const phone = () => `+1555${Math.floor(1e6 + Math.random() * 9e6)}`

describe('asymmetric signing keys', () => {
  test('getClaims verifies an ES256 token from the JWKS, without asking GET /user', async () => {
    const urls = []
    const c = client(undefined, { global: { fetch: (url, init) => { urls.push(String(url)); return fetch(url, init) } } })
    const { data: signUp, error } = await c.auth.signUp({ email: `${unique('es')}@example.com`, password: PASSWORD })
    assert.equal(error, null)
    assert.equal(header(signUp.session.access_token).alg, 'ES256')
    urls.length = 0
    const { data, error: claimsError } = await c.auth.getClaims()
    assert.equal(claimsError, null)
    assert.equal(data.claims.email, signUp.user.email)
    assert.ok(urls.some((u) => u.endsWith('/auth/v1/.well-known/jwks.json')), urls.join(' '))
    assert.ok(!urls.some((u) => u.endsWith('/auth/v1/user')), urls.join(' '))
    const rows = await c.from('notes').insert({ body: 'es256' }).select('owner_id')
    assert.equal(rows.data[0].owner_id, signUp.user.id)
  })
})

describe('oauth server', () => {
  test('createClient, getClient, updateClient, regenerateClientSecret, listClients, deleteClient', async () => {
    const oauth = service().auth.admin.oauth
    const created = await oauth.createClient({ client_name: 'JS client', redirect_uris: ['https://example.com/cb'] })
    assert.equal(created.error, null)
    const id = created.data.client_id
    assert.ok(created.data.client_secret)
    assert.deepEqual(created.data.grant_types, ['authorization_code', 'refresh_token'])
    const got = await oauth.getClient(id)
    assert.equal(got.data.client_secret, undefined)
    const updated = await oauth.updateClient(id, { logo_uri: 'https://example.com/logo.png' })
    assert.deepEqual([updated.data.client_name, updated.data.logo_uri], ['JS client', 'https://example.com/logo.png'])
    const regenerated = await oauth.regenerateClientSecret(id)
    assert.notEqual(regenerated.data.client_secret, created.data.client_secret)
    assert.ok((await oauth.listClients()).data.clients.some((x) => x.client_id === id))
    assert.equal((await oauth.deleteClient(id)).error, null)
    const gone = await oauth.getClient(id)
    assert.equal(gone.data, null)
    assert.ok(gone.error)
    const bad = await oauth.createClient({ client_name: 'Invalid Client', redirect_uris: [] })
    assert.match(bad.error.message, /redirect_uris/)
  })
})

describe('phone auth', () => {
  test('signUp and signInWithPassword with a phone number', async () => {
    const number = phone()
    const c = client()
    const { data, error } = await c.auth.signUp({ phone: number, password: PASSWORD, options: { data: { info: 'x' } } })
    assert.equal(error, null)
    assert.equal(data.user.phone, number.slice(1))
    assert.ok(data.session)
    const signIn = await c.auth.signInWithPassword({ phone: number, password: PASSWORD })
    assert.equal(signIn.error, null)
    assert.ok(signIn.data.user.phone_confirmed_at)
    assert.equal(signIn.data.user.app_metadata.provider, 'phone')
  })

  test('signInWithOtp and verifyOtp with the test number\'s fixed code', async () => {
    const c = client()
    const sent = await c.auth.signInWithOtp({ phone: `+${TEST_PHONE}` })
    assert.equal(sent.error, null)
    const { data, error } = await c.auth.verifyOtp({ phone: TEST_PHONE, token: TEST_OTP, type: 'sms' })
    assert.equal(error, null)
    assert.equal(data.user.phone, TEST_PHONE)
    const wrong = await c.auth.verifyOtp({ phone: `${TEST_PHONE}-invalid`, token: TEST_OTP, type: 'sms' })
    assert.equal(wrong.error.message, 'Invalid phone number format (E.164 required)')
  })
})
