// Auth (/auth/v1) through supabase-js's auth client, and RLS through a signed-in user's client:
// mirrors tests/localbase/auth and tests/localbase/rest/test_security.py.
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { AuthApiError, AuthWeakPasswordError, isAuthApiError } from '@supabase/supabase-js'
import { anon, service, signedInUser, unique, PASSWORD } from './env.mjs'

const claims = (token) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString())

/** The current TOTP code of a base32 secret (RFC 6238: SHA-1, 30 s, 6 digits), as an authenticator app computes it. */
function totp(secret) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
  let bits = ''
  for (const ch of secret.replace(/=+$/, '')) bits += alphabet.indexOf(ch).toString(2).padStart(5, '0')
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)))
  const counter = Buffer.alloc(8)
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30000)))
  const mac = createHmac('sha1', key).update(counter).digest()
  const at = mac[mac.length - 1] & 0xf
  return String((mac.readUInt32BE(at) & 0x7fffffff) % 1000000).padStart(6, '0')
}

describe('sessions', () => {
  test('signUp gives a session (confirmations off), signInWithPassword another', async () => {
    const email = `${unique('signup')}@example.com`
    const c = anon()
    const up = await c.auth.signUp({ email, password: PASSWORD, options: { data: { name: 'Ada' } } })
    assert.equal(up.error, null)
    assert.equal(up.data.user.email, email)
    assert.deepEqual(up.data.user.user_metadata.name, 'Ada')
    assert.ok(up.data.session.access_token)
    assert.equal(up.data.session.token_type, 'bearer')
    assert.equal(up.data.session.user.id, up.data.user.id)

    const other = anon()
    const events = []
    other.auth.onAuthStateChange((event) => events.push(event))
    const { data, error } = await other.auth.signInWithPassword({ email, password: PASSWORD })
    assert.equal(error, null)
    assert.equal(data.user.id, up.data.user.id)
    const jwt = claims(data.session.access_token)
    assert.equal(jwt.sub, data.user.id)
    assert.equal(jwt.role, 'authenticated')
    assert.equal(jwt.aud, 'authenticated')
    assert.equal(jwt.email, email)
    assert.ok(jwt.session_id)
    assert.ok(data.session.expires_at > Date.now() / 1000)
    assert.equal((await other.auth.getSession()).data.session.access_token, data.session.access_token)
    assert.ok(events.includes('SIGNED_IN'))
  })

  test('getUser, updateUser (metadata, password), refreshSession', async () => {
    const { client: c, user, session, email } = await signedInUser()
    const got = await c.auth.getUser()
    assert.equal(got.error, null)
    assert.equal(got.data.user.id, user.id)
    assert.equal(got.data.user.aud, 'authenticated')
    assert.equal(got.data.user.role, 'authenticated')

    const updated = await c.auth.updateUser({ data: { theme: 'dark' } })
    assert.equal(updated.error, null)
    assert.equal(updated.data.user.user_metadata.theme, 'dark')

    const newPassword = 'An0ther-pass!'
    assert.equal((await c.auth.updateUser({ password: newPassword })).error, null)
    const old = await anon().auth.signInWithPassword({ email, password: PASSWORD })
    assert.ok(old.error instanceof AuthApiError)
    assert.equal((await anon().auth.signInWithPassword({ email, password: newPassword })).error, null)

    const refreshed = await c.auth.refreshSession()
    assert.equal(refreshed.error, null)
    assert.notEqual(refreshed.data.session.refresh_token, session.refresh_token)
    assert.equal(refreshed.data.user.id, user.id)
    assert.equal(refreshed.data.user.user_metadata.theme, 'dark')
    assert.equal(claims(refreshed.data.session.access_token).user_metadata.theme, 'dark')

    // a spent refresh token cannot start a session after the reuse interval... but within it
    // (a client that lost the answer) it still can: only check the new one works.
    const again = await c.auth.refreshSession({ refresh_token: refreshed.data.session.refresh_token })
    assert.equal(again.error, null)
  })

  test('setSession adopts tokens from elsewhere', async () => {
    const { session, user } = await signedInUser()
    const c = anon()
    const { data, error } = await c.auth.setSession({
      access_token: session.access_token, refresh_token: session.refresh_token })
    assert.equal(error, null)
    assert.equal(data.user.id, user.id)
    assert.equal((await c.rpc('whoami')).data.uid, user.id)
  })

  test('signOut ends the session: the refresh token and the access token stop working', async () => {
    const { client: c, session } = await signedInUser()
    const events = []
    c.auth.onAuthStateChange((event) => events.push(event))
    assert.equal((await c.auth.signOut()).error, null)
    assert.equal((await c.auth.getSession()).data.session, null)
    assert.ok(events.includes('SIGNED_OUT'))

    const stale = anon()
    const refreshed = await stale.auth.refreshSession({ refresh_token: session.refresh_token })
    assert.ok(isAuthApiError(refreshed.error), String(refreshed.error))
    const user = await stale.auth.getUser(session.access_token)
    assert.ok(user.error)
    assert.equal(user.data.user, null)
  })
})

describe('claims, identities, one-time codes', () => {
  test('getClaims verifies the access token (HS256: through the server)', async () => {
    const { client: c, user } = await signedInUser()
    const { data, error } = await c.auth.getClaims()
    assert.equal(error, null)
    assert.equal(data.claims.sub, user.id)
    assert.equal(data.claims.role, 'authenticated')
    assert.equal(data.claims.aal, 'aal1')
    assert.equal(data.header.alg, 'HS256')
  })

  test('getUserIdentities and the MFA assurance level of a password sign-in', async () => {
    const { client: c, user, email } = await signedInUser()
    const ids = await c.auth.getUserIdentities()
    assert.equal(ids.error, null)
    assert.equal(ids.data.identities.length, 1)
    assert.equal(ids.data.identities[0].provider, 'email')
    assert.equal(ids.data.identities[0].user_id, user.id)
    assert.equal(ids.data.identities[0].identity_data.email, email)
    const aal = await c.auth.mfa.getAuthenticatorAssuranceLevel()
    assert.equal(aal.error, null)
    assert.equal(aal.data.currentLevel, 'aal1')
    const factors = await c.auth.mfa.listFactors()
    assert.deepEqual(factors.data.all, [])
  })

  test('mfa: enroll a TOTP factor, challengeAndVerify reaches aal2, unenroll', async () => {
    const { client: c } = await signedInUser()
    const enrolled = await c.auth.mfa.enroll({ factorType: 'totp', friendlyName: 'js app' })
    assert.equal(enrolled.error, null)
    assert.match(enrolled.data.totp.qr_code, /^data:image\/svg\+xml;utf-8,<svg/)
    const wrong = await c.auth.mfa.challengeAndVerify({ factorId: enrolled.data.id, code: '12345x' })
    assert.equal(wrong.error.code, 'mfa_verification_failed')
    const ok = await c.auth.mfa.challengeAndVerify({ factorId: enrolled.data.id, code: totp(enrolled.data.totp.secret) })
    assert.equal(ok.error, null)
    assert.equal(claims(ok.data.access_token).aal, 'aal2')
    const aal = await c.auth.mfa.getAuthenticatorAssuranceLevel()
    assert.equal(aal.data.currentLevel, 'aal2')
    const factors = await c.auth.mfa.listFactors()
    assert.equal(factors.data.totp.length, 1)
    const gone = await c.auth.mfa.unenroll({ factorId: enrolled.data.id })
    assert.equal(gone.error, null)
  })

  test('admin.generateLink + verifyOtp (email code, token_hash) start sessions', async () => {
    const { email, user } = await signedInUser()
    const admin = service().auth.admin
    const magic = await admin.generateLink({ type: 'magiclink', email })
    assert.equal(magic.error, null)
    assert.equal(magic.data.properties.verification_type, 'magiclink')
    assert.match(magic.data.properties.action_link, /\/auth\/v1\/verify\?/)
    const byCode = await anon().auth.verifyOtp({ email, token: magic.data.properties.email_otp, type: 'email' })
    assert.equal(byCode.error, null)
    assert.equal(byCode.data.user.id, user.id)
    assert.ok(byCode.data.session.access_token)
    const reused = await anon().auth.verifyOtp({ email, token: magic.data.properties.email_otp, type: 'email' })
    assert.ok(isAuthApiError(reused.error))
    assert.equal(reused.error.code, 'otp_expired')

    const recovery = await admin.generateLink({ type: 'recovery', email })
    const byHash = await anon().auth.verifyOtp({ token_hash: recovery.data.properties.hashed_token, type: 'recovery' })
    assert.equal(byHash.error, null)
    assert.equal(byHash.data.user.id, user.id)
  })

  test('admin.signOut ends the user\'s sessions', async () => {
    const { client: c, session } = await signedInUser()
    assert.equal((await service().auth.admin.signOut(session.access_token)).error, null)
    const { data, error } = await c.auth.getUser()
    assert.ok(error)
    assert.equal(data.user, null)
    const refreshed = await anon().auth.refreshSession({ refresh_token: session.refresh_token })
    assert.ok(refreshed.error)
  })
})

describe('errors', () => {
  test('wrong password, unknown user: one invalid_credentials answer', async () => {
    const { email } = await signedInUser()
    for (const attempt of [{ email, password: 'wrong-password' },
      { email: `${unique('nobody')}@example.com`, password: PASSWORD }]) {
      const { data, error } = await anon().auth.signInWithPassword(attempt)
      assert.ok(error instanceof AuthApiError)
      assert.equal(error.status, 400)
      assert.equal(error.code, 'invalid_credentials')
      assert.equal(data.session, null)
    }
  })

  test('weak password and existing email', async () => {
    const weak = await anon().auth.signUp({ email: `${unique('weak')}@example.com`, password: '123' })
    assert.ok(weak.error instanceof AuthWeakPasswordError, String(weak.error))
    assert.equal(weak.error.status, 422)
    assert.equal(weak.error.code, 'weak_password')
    assert.ok(weak.error.reasons.includes('length'))

    const { email } = await signedInUser()
    const dup = await anon().auth.signUp({ email, password: PASSWORD })
    assert.ok(dup.error instanceof AuthApiError)
    assert.equal(dup.error.status, 422)
    assert.equal(dup.error.code, 'user_already_exists')
  })

  test('getUser without a session, with a bad token', async () => {
    const none = await anon().auth.getUser()
    assert.ok(none.error)
    assert.equal(none.data.user, null)
    const bad = await anon().auth.getUser('not-a-jwt')
    assert.ok(bad.error)
    assert.equal(bad.data.user, null)
  })

  test('anonymous sign-ins are off by default', async () => {
    const { error } = await anon().auth.signInAnonymously()
    assert.ok(error instanceof AuthApiError)
    assert.equal(error.code, 'anonymous_provider_disabled')
  })
})

describe('admin', () => {
  test('createUser, getUserById, updateUserById, listUsers, deleteUser', async () => {
    const admin = service().auth.admin
    const email = `${unique('admin')}@example.com`
    const created = await admin.createUser({ email, password: PASSWORD, email_confirm: true,
      user_metadata: { name: 'Bo' }, app_metadata: { clearance: 'blue' } })
    assert.equal(created.error, null)
    const id = created.data.user.id
    assert.equal(created.data.user.app_metadata.clearance, 'blue')
    assert.ok(created.data.user.email_confirmed_at)

    const got = await admin.getUserById(id)
    assert.equal(got.data.user.email, email)
    const updated = await admin.updateUserById(id, { app_metadata: { clearance: 'red' } })
    assert.equal(updated.data.user.app_metadata.clearance, 'red')

    const signedIn = await anon().auth.signInWithPassword({ email, password: PASSWORD })
    assert.equal(claims(signedIn.data.session.access_token).app_metadata.clearance, 'red')

    const listed = await admin.listUsers({ page: 1, perPage: 1 })
    assert.equal(listed.error, null)
    assert.equal(listed.data.users.length, 1)
    assert.ok(listed.data.total >= 1)

    assert.equal((await admin.deleteUser(id)).error, null)
    const gone = await admin.getUserById(id)
    assert.equal(gone.error.status, 404)
    assert.equal(gone.error.code, 'user_not_found')
  })

  test('the anon key is not an admin', async () => {
    const { error } = await anon().auth.admin.listUsers()
    assert.ok(error)
    assert.equal(error.status, 403)
  })
})

describe('row-level security through a signed-in client', () => {
  test('a user reads and writes only their own notes', async () => {
    const ada = await signedInUser()
    const bob = await signedInUser()
    const mine = await ada.client.from('notes').insert({ body: 'ada 1' }).select('id, owner_id, body').single()
    assert.equal(mine.error, null)
    assert.equal(mine.data.owner_id, ada.user.id)
    await bob.client.from('notes').insert({ body: 'bob 1' })

    const seen = await ada.client.from('notes').select('body')
    assert.deepEqual(seen.data, [{ body: 'ada 1' }])
    assert.deepEqual((await anon().from('notes').select('body')).data, [])

    // writing as someone else: refused by the policy's WITH CHECK
    const forged = await bob.client.from('notes').insert({ body: 'forged', owner_id: ada.user.id })
    assert.equal(forged.status, 403)
    assert.equal(forged.error.code, '42501')

    // updating or deleting another user's row touches nothing
    const upd = await bob.client.from('notes').update({ body: 'mine now' }).eq('id', mine.data.id).select()
    assert.deepEqual(upd.data, [])
    const del = await bob.client.from('notes').delete().eq('id', mine.data.id).select()
    assert.deepEqual(del.data, [])

    // the service role sees both
    const all = await service().from('notes').select('body')
      .in('owner_id', [ada.user.id, bob.user.id]).order('body')
    assert.deepEqual(all.data, [{ body: 'ada 1' }, { body: 'bob 1' }])

    // auth.uid() in SQL is the signed-in user
    assert.deepEqual((await ada.client.rpc('whoami')).data,
      { role: 'authenticated', uid: ada.user.id, current_user: 'authenticated' })
    const note = await ada.client.rpc('make_note', { body: 'via rpc' }).select('owner_id, body').single()
    assert.deepEqual(note.data, { owner_id: ada.user.id, body: 'via rpc' })

    // after sign-out the client is anon again
    await ada.client.auth.signOut()
    assert.deepEqual((await ada.client.from('notes').select('body')).data, [])
  })

  test('a table without a grant for anon: 401 for anon, rows for a user', async () => {
    const { client: c } = await signedInUser()
    assert.equal((await c.from('secrets').select('value')).data.length, 2)
    assert.equal((await anon().from('secrets').select('value')).status, 401)
  })
})

// What auth-js's own suite (GoTrueApi.test.ts, GoTrueClient.test.ts) expects of GoTrue, on default settings.
describe('as auth-js\'s own suite expects', () => {
  const INVALID_EMAIL = 'xx:;x@x.x'

  test('inviteUserByEmail creates the user with invited_at', async () => {
    const { data, error } = await service().auth.admin.inviteUserByEmail(`${unique('invite')}@example.com`, {
      data: { status: 'alpha' }, redirectTo: 'http://localhost:9999/welcome',
    })
    assert.equal(error, null)
    assert.ok(data.user.invited_at)
    assert.deepEqual(data.user.user_metadata, { status: 'alpha' })
  })

  test('createUser, inviteUserByEmail and generateLink validate the email address', async () => {
    const admin = service().auth.admin
    const answers = [
      await admin.createUser({ email: INVALID_EMAIL, password: 'password123' }),
      await admin.inviteUserByEmail(INVALID_EMAIL),
      await admin.generateLink({ type: 'signup', email: INVALID_EMAIL, password: 'password123' }),
    ]
    for (const { data, error } of answers) {
      assert.equal(error.message, 'Unable to validate email address: invalid format')
      assert.equal(data.user, null)
    }
  })

  test('listUsers with page -1 is an error', async () => {
    const { data, error } = await service().auth.admin.listUsers({ page: -1, perPage: 10 })
    assert.ok(error)
    assert.equal(error.status, 400)
    assert.deepEqual(data.users, [])
  })

  test('mfa.challenge without a session is refused for the missing session, not the factor', async () => {
    const { data, error } = await anon().auth.mfa.challenge({ factorId: 'test-factor-id' })
    assert.ok(error)
    assert.notEqual(error.status, 404)
    assert.equal(data, null)
  })

  test('admin.mfa.listFactors and deleteFactor', async () => {
    const { client: c, user } = await signedInUser()
    assert.equal((await c.auth.mfa.enroll({ factorType: 'totp' })).error, null)
    const admin = service().auth.admin
    const listed = await admin.mfa.listFactors({ userId: user.id })
    assert.equal(listed.error, null)
    assert.equal(listed.data.factors.length, 1)
    const factorId = listed.data.factors[0].id
    const deleted = await admin.mfa.deleteFactor({ userId: user.id, id: factorId })
    assert.equal(deleted.error, null)
    assert.equal(deleted.data.data.id, factorId)
    assert.deepEqual((await admin.mfa.listFactors({ userId: user.id })).data.factors, [])
    const nobody = await admin.mfa.listFactors({ userId: '83fd9e20-7a80-46e4-bf29-a86e3d6bbf66' })
    assert.equal(nobody.data, null)
    assert.ok(nobody.error)
  })

  test('signInWithSSO: SAML 2.0 is disabled', async () => {
    const { data, error } = await anon().auth.signInWithSSO({ domain: 'google' })
    assert.equal(data, null)
    assert.equal(error.message, 'SAML 2.0 is disabled')
    assert.equal(error.status, 404)
  })
})
