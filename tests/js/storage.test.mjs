// Storage (/storage/v1) through supabase-js's storage client and tus-js-client: mirrors
// tests/localbase/storage. Buckets and policies: STORAGE_SETUP in test_supabase_js.py
// (js-private: a folder per user, as Supabase's docs write it; js-public: a public bucket).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { deflateSync } from 'node:zlib'
import * as tus from 'tus-js-client'
import { anon, service, signedInUser, unique, URL, ANON_KEY, SERVICE_ROLE_KEY } from './env.mjs'

/** A small RGB PNG, width x height, made by hand (no image library in the suite). */
function png(width, height) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    return c >>> 0
  })
  const crc = (buf) => { let c = 0xffffffff; for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8); return (c ^ 0xffffffff) >>> 0 }
  const chunk = (type, data) => {
    const out = Buffer.alloc(12 + data.length)
    out.writeUInt32BE(data.length, 0); out.write(type, 4, 'ascii'); data.copy(out, 8)
    out.writeUInt32BE(crc(Buffer.concat([Buffer.from(type, 'ascii'), data])), 8 + data.length)
    return out
  }
  const header = Buffer.alloc(13)
  header.writeUInt32BE(width, 0); header.writeUInt32BE(height, 4); header[8] = 8; header[9] = 2
  const rows = Buffer.alloc((width * 3 + 1) * height)
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) rows[y * (width * 3 + 1) + 1 + x * 3] = 200
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows)), chunk('IEND', Buffer.alloc(0))])
}
const pngSize = (buf) => [buf.readUInt32BE(16), buf.readUInt32BE(20)]

async function scratchBucket(options = {}) {
  const name = unique('jsb')
  const { error } = await service().storage.createBucket(name, options)
  assert.equal(error, null)
  return name
}

test('buckets: create, get, list, update, empty, delete (refused while not empty)', async () => {
  const storage = service().storage
  const name = await scratchBucket({ public: false, fileSizeLimit: '1MB', allowedMimeTypes: ['text/plain'] })
  const got = await storage.getBucket(name)
  assert.equal(got.error, null)
  assert.deepEqual([got.data.public, got.data.file_size_limit, got.data.allowed_mime_types], [false, 1000000, ['text/plain']])
  assert.ok((await storage.listBuckets()).data.some((b) => b.id === name))
  assert.deepEqual((await storage.updateBucket(name, { public: true })).data, { message: 'Successfully updated' })
  assert.equal((await storage.getBucket(name)).data.public, true)
  await storage.from(name).upload('x.txt', 'x', { contentType: 'text/plain' })
  const refused = await storage.deleteBucket(name)
  assert.equal(refused.error.statusCode, '409')
  assert.deepEqual((await storage.emptyBucket(name)).data, { message: 'Successfully emptied' })
  assert.deepEqual((await storage.deleteBucket(name)).data, { message: 'Successfully deleted' })
  assert.equal((await storage.getBucket(name)).error.statusCode, '404')
})

test('objects: upload, download, info, exists, list, move, copy, remove', async () => {
  const bucket = await scratchBucket()
  const files = service().storage.from(bucket)
  const up = await files.upload('docs/a.txt', new Blob(['hello from js'], { type: 'text/plain' }),
    { cacheControl: '120', metadata: { from: 'js' } })
  assert.equal(up.error, null)
  assert.equal(up.data.fullPath, `${bucket}/docs/a.txt`)
  assert.ok(up.data.id)
  const raw = await files.upload('docs/raw.bin', Buffer.from([1, 2, 3]), { contentType: 'application/x-raw', metadata: { k: 'v' } })
  assert.equal(raw.error, null)
  assert.equal(await (await files.download('docs/a.txt')).data.text(), 'hello from js')
  const info = await files.info('docs/raw.bin')
  assert.deepEqual([info.data.size, info.data.contentType, info.data.metadata], [3, 'application/x-raw', { k: 'v' }])
  assert.equal((await files.info('docs/a.txt')).data.cacheControl, 'max-age=120')
  assert.equal((await files.exists('docs/a.txt')).data, true)
  assert.equal((await files.exists('docs/none.txt')).data, false)
  const dup = await files.upload('docs/a.txt', 'again')
  assert.equal(dup.error.statusCode, '409')
  assert.equal((await files.upload('docs/a.txt', 'again', { upsert: true })).error, null)
  assert.equal(await (await files.download('docs/a.txt')).data.text(), 'again')
  assert.equal((await files.update('docs/a.txt', 'updated')).error, null)
  assert.deepEqual((await files.list('docs')).data.map((e) => e.name), ['a.txt', 'raw.bin'])
  assert.deepEqual((await files.list()).data.map((e) => [e.name, e.id === null]), [['docs', true]])
  assert.deepEqual((await files.list('docs', { limit: 1, offset: 1, sortBy: { column: 'name', order: 'asc' } })).data.map((e) => e.name), ['raw.bin'])
  assert.deepEqual((await files.list('docs', { search: 'ra' })).data.map((e) => e.name), ['raw.bin'])
  assert.equal((await files.move('docs/a.txt', 'moved/a.txt')).error, null)
  assert.equal((await files.copy('moved/a.txt', 'copied/a.txt')).data.path, `${bucket}/copied/a.txt`)
  const other = await scratchBucket()
  assert.equal((await files.copy('moved/a.txt', 'a.txt', { destinationBucket: other })).error, null)
  assert.equal(await (await service().storage.from(other).download('a.txt')).data.text(), 'updated')
  const removed = await files.remove(['moved/a.txt', 'copied/a.txt', 'docs/raw.bin'])
  assert.deepEqual(removed.data.map((r) => r.name).sort(), ['copied/a.txt', 'docs/raw.bin', 'moved/a.txt'])
  assert.deepEqual((await files.list()).data, [])
})

test('limits and bad keys answer in Storage\'s error shape', async () => {
  const bucket = await scratchBucket({ fileSizeLimit: 100, allowedMimeTypes: ['text/plain'] })
  const files = service().storage.from(bucket)
  const big = await files.upload('big.txt', 'x'.repeat(200), { contentType: 'text/plain' })
  assert.equal(big.error.statusCode, '413')
  const pdf = await files.upload('doc.pdf', '%PDF', { contentType: 'application/pdf' })
  assert.equal(pdf.error.statusCode, '415')
  for (const bad of ['a%00b.txt', '/absolute.txt']) { // fetch itself resolves `..` segments
    const refused = await fetch(`${URL}/storage/v1/object/${bucket}/${bad}`, {
      method: 'POST', body: 'x', headers: { Authorization: `Bearer ${SERVICE_ROLE_KEY}`, 'content-type': 'text/plain' } })
    assert.equal(refused.status, 400, bad)
    const body = await refused.json()
    assert.deepEqual([Object.keys(body).sort(), body.error], [['code', 'error', 'message', 'statusCode'], 'InvalidKey'])
  }
  const moved = await files.move('x.txt', '../escape.txt')
  assert.equal(moved.error.statusCode, '400')
})

test('RLS: a user cannot read, list, overwrite, move or delete another user\'s objects; anon reads public only', async () => {
  const a = await signedInUser()
  const b = await signedInUser()
  const key = `${a.user.id}/secret.txt`
  const mine = a.client.storage.from('js-private')
  assert.equal((await mine.upload(key, 'A only', { contentType: 'text/plain' })).error, null)
  assert.equal(await (await mine.download(key)).data.text(), 'A only')
  const theirs = b.client.storage.from('js-private')
  assert.equal((await theirs.download(key)).error.statusCode, '404')
  assert.deepEqual((await theirs.list(a.user.id)).data, [])
  assert.ok((await theirs.upload(key, 'B was here', { upsert: true })).error)
  assert.ok((await theirs.update(key, 'B was here')).error)
  assert.ok((await theirs.move(key, `${b.user.id}/stolen.txt`)).error)
  assert.deepEqual((await theirs.remove([key])).data, [])
  const planted = await mine.upload(`${b.user.id}/planted.txt`, 'x')
  assert.equal(planted.error.statusCode, '403')
  assert.equal(await (await mine.download(key)).data.text(), 'A only')

  assert.equal((await anon().storage.from('js-private').download(key)).error.statusCode, '404')
  const avatar = `${a.user.id}.txt`
  assert.equal((await a.client.storage.from('js-public').upload(avatar, 'public bytes')).error, null)
  const { data: { publicUrl } } = anon().storage.from('js-public').getPublicUrl(avatar)
  assert.equal(await (await fetch(publicUrl)).text(), 'public bytes')
  const privateUrl = anon().storage.from('js-private').getPublicUrl(key).data.publicUrl
  assert.equal((await fetch(privateUrl)).status, 404)
})

test('signed URLs: download (single, many, download option, expiry, tamper) and signed uploads', async () => {
  const bucket = await scratchBucket()
  const files = service().storage.from(bucket)
  await files.upload('a.txt', 'signed a', { contentType: 'text/plain' })
  await files.upload('b.txt', 'signed b', { contentType: 'text/plain' })
  const one = await files.createSignedUrl('a.txt', 60, { download: 'named.txt' })
  const response = await fetch(one.data.signedUrl)
  assert.equal(await response.text(), 'signed a')
  assert.match(response.headers.get('content-disposition'), /^attachment; filename=named.txt/)
  const many = await files.createSignedUrls(['a.txt', 'b.txt', 'none.txt'], 60)
  assert.equal(await (await fetch(many.data[1].signedUrl)).text(), 'signed b')
  assert.equal(many.data[2].signedUrl, null)
  assert.equal((await fetch(one.data.signedUrl.replace('/a.txt', '/b.txt'))).status, 400)
  const short = await files.createSignedUrl('a.txt', 1)
  await new Promise((r) => setTimeout(r, 2100))
  assert.equal((await fetch(short.data.signedUrl)).status, 400)

  const user = await signedInUser()
  const own = user.client.storage.from('js-private')
  const signed = await own.createSignedUploadUrl(`${user.user.id}/signed.txt`)
  assert.equal(signed.error, null)
  const put = await anon().storage.from('js-private').uploadToSignedUrl(`${user.user.id}/signed.txt`, signed.data.token, 'via token')
  assert.equal(put.error, null)
  assert.equal(await (await own.download(`${user.user.id}/signed.txt`)).data.text(), 'via token')
})

test('image transformations: download and public URL with transform', async () => {
  const bucket = await scratchBucket({ public: true })
  const files = service().storage.from(bucket)
  await files.upload('pic.png', png(40, 20), { contentType: 'image/png' })
  const small = await files.download('pic.png', { transform: { width: 10, height: 10, resize: 'fill', format: 'origin' } })
  assert.deepEqual(pngSize(Buffer.from(await small.data.arrayBuffer())), [10, 10])
  const url = files.getPublicUrl('pic.png', { transform: { width: 20, resize: 'contain', format: 'origin' } }).data.publicUrl
  assert.deepEqual(pngSize(Buffer.from(await (await fetch(url)).arrayBuffer())), [20, 10])
})

test('resumable upload with tus-js-client resumes after a dropped connection', async () => {
  const user = await signedInUser()
  const key = `${user.user.id}/resumable.bin`
  const body = Buffer.alloc(3 * 1024 * 1024 + 17)
  for (let i = 0; i < body.length; i++) body[i] = (i * 7) % 251
  const options = {
    endpoint: `${URL}/storage/v1/upload/resumable`,
    retryDelays: [0, 200, 500],
    headers: { authorization: `Bearer ${user.session.access_token}`, apikey: ANON_KEY, 'x-upsert': 'true' },
    metadata: { bucketName: 'js-private', objectName: key, contentType: 'application/octet-stream', cacheControl: '3600' },
    chunkSize: 1024 * 1024,
  }
  let resumedFrom = null
  await new Promise((resolve, reject) => {
    let dropped = false
    const upload = new tus.Upload(body, {
      ...options,
      onError: reject,
      onProgress: (sent) => {
        if (!dropped && sent > 1.5 * 1024 * 1024) { // cut the connection mid-chunk, then carry on
          dropped = true
          upload.abort().then(() => setTimeout(() => {
            fetch(upload.url, { method: 'HEAD', headers: { ...options.headers, 'Tus-Resumable': '1.0.0' } })
              .then((r) => { resumedFrom = Number(r.headers.get('upload-offset')); upload.start() }, reject)
          }, 100), reject)
        }
      },
      onSuccess: resolve,
    })
    upload.start()
  })
  assert.ok(resumedFrom >= 1024 * 1024 && resumedFrom < body.length, `resumed from ${resumedFrom}`)
  const { data, error } = await user.client.storage.from('js-private').download(key)
  assert.equal(error, null)
  assert.ok(Buffer.from(await data.arrayBuffer()).equals(body))
})
