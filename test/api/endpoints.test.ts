/**
 * Every endpoint of the REST API over real HTTP on 127.0.0.1, against a real
 * store: shapes of the reference, error JSON and statuses, Range/ETag/HEAD/
 * 304, CORS, folder upload with /view/{hash}/{path}, directory tar download.
 */
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { InProcessApi } from '../helpers/daemon.js'
import { startInProcessApi } from '../helpers/daemon.js'
import { prng, tempDir } from '../helpers/tmp.js'

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const UNKNOWN = 'ab'.repeat(32)
const execFileP = promisify(execFile)

let api: InProcessApi
let dir: { path: string, cleanup: () => Promise<void> }

async function upload (bytes: Uint8Array, filename: string, extra: Record<string, string> = {}): Promise<Response> {
  const form = new FormData()
  for (const [k, v] of Object.entries(extra)) form.append(k, v)
  form.append('file', new Blob([bytes]), filename)
  return await fetch(`${api.url}/upload/file`, { method: 'POST', body: form })
}

async function uploadOk (bytes: Uint8Array, filename: string): Promise<any> {
  const res = await upload(bytes, filename)
  expect(res.status, await res.clone().text()).toBe(200)
  return await res.json() as any
}

/** Assert the reference's error JSON (plus our error_code) with this status. */
async function expectError (res: Response, status: number, errorCode?: string): Promise<any> {
  const text = await res.text()
  expect(res.status, text).toBe(status)
  expect(res.headers.get('content-type')).toMatch(/^application\/json/)
  expect(res.headers.get('access-control-allow-origin')).toBe('*')
  const body = JSON.parse(text)
  expect(body.code).toBe(status)
  expect(typeof body.error).toBe('string')
  expect(body.error.length).toBeGreaterThan(0)
  expect(typeof body.message).toBe('string')
  expect(Number.isNaN(Date.parse(body.timestamp))).toBe(false)
  if (errorCode !== undefined) expect(body.error_code).toBe(errorCode)
  return body
}

beforeAll(async () => {
  dir = await tempDir('openhash-api-')
  api = await startInProcessApi(join(dir.path, 'data'), { api: { max_upload_bytes: 4 * 1024 * 1024 } })
})

afterAll(async () => {
  await api?.close()
  await dir?.cleanup()
})

describe('health, stats, network', () => {
  it('GET /health', async () => {
    const res = await fetch(`${api.url}/health`)
    expect(res.status).toBe(200)
    const body = await res.json() as any
    expect(body.status).toBe('healthy')
    expect(body.version).toMatch(/^\d+\.\d+\.\d+/)
    expect(Number.isNaN(Date.parse(body.timestamp))).toBe(false)
  })

  it('GET /stats has every field of the reference', async () => {
    await uploadOk(Buffer.from('stats file'), 'stats.txt')
    const body = await (await fetch(`${api.url}/stats`)).json() as any
    expect(body.storage.content_count).toBeGreaterThanOrEqual(1)
    expect(body.storage.chunk_count).toBeGreaterThanOrEqual(1)
    expect(Object.keys(body.replication).sort()).toEqual(['failed', 'in_progress', 'pending_requests', 'pinned_content', 'replica_bytes', 'replicas_held', 'replicated', 'replication_factor'])
    expect(typeof body.network.peer_id).toBe('string')
    expect(body.network.connected_peers).toBe(0)
    expect(body.network.addresses).toEqual([])
    expect(Number.isNaN(Date.parse(body.timestamp))).toBe(false)
  })

  it('GET /network reports an honest, disabled network', async () => {
    const body = await (await fetch(`${api.url}/network`)).json() as any
    expect(body).toEqual({ peer_id: '', connected_peers: 0, peer_list: [], addresses: [], dht: { enabled: false, peer_count: 0, bucket_info: [] } })
  })
})

describe('file upload and metadata', () => {
  it('uploads a file and reports the reference shape; hash is the SHA-256', async () => {
    const bytes = prng(1)(3 * 1024 * 1024 + 7) // several chunks
    const body = await uploadOk(bytes, 'data.bin')
    expect(body).toMatchObject({ hash: sha(bytes), size: bytes.length, filename: 'data.bin', message: 'File uploaded successfully' })
    const info = await (await fetch(`${api.url}/info/${body.hash}`)).json() as any
    expect(Object.keys(info).sort()).toEqual(['chunk_count', 'cid', 'created_at', 'filename', 'hash', 'is_directory', 'mime_type', 'mod_time', 'ref_count', 'size'])
    expect(info).toMatchObject({ hash: sha(bytes), filename: 'data.bin', size: bytes.length, is_directory: false, ref_count: 1, chunk_count: 4 })
  })

  it('keeps a non-ASCII filename and detects the MIME type', async () => {
    const body = await uploadOk(Buffer.from('<html><body>hi</body></html>'), 'página ✓.html')
    expect(body.filename).toBe('página ✓.html')
    const info = await (await fetch(`${api.url}/info/${body.hash}`)).json() as any
    expect(info.mime_type).toMatch(/^text\/html/)
  })

  it('uploads an empty file', async () => {
    const body = await uploadOk(new Uint8Array(0), 'empty')
    expect(body.hash).toBe(sha(new Uint8Array(0)))
    const res = await fetch(`${api.url}/download/${body.hash}`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-length')).toBe('0')
    expect((await res.arrayBuffer()).byteLength).toBe(0)
  })

  it('400 without a file part, 400 for a non-multipart body', async () => {
    const form = new FormData()
    form.append('other', 'x')
    await expectError(await fetch(`${api.url}/upload/file`, { method: 'POST', body: form }), 400, 'INVALID_ARGUMENT')
    await expectError(await fetch(`${api.url}/upload/file`, { method: 'POST', body: 'plain', headers: { 'content-type': 'text/plain' } }), 400, 'INVALID_ARGUMENT')
  })

  it('413 past the configured maximum, with nothing stored', async () => {
    const before = await (await fetch(`${api.url}/list`)).json() as any
    const big = prng(2)(5 * 1024 * 1024)
    const body = await expectError(await upload(big, 'big.bin'), 413, 'PAYLOAD_TOO_LARGE')
    expect(body.message).toMatch(/maximum size/)
    // a streamed body without Content-Length is cut off while streaming
    const boundary = 'xBOUNDARYx'
    const parts = [Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="s.bin"\r\n\r\n`), big, Buffer.from(`\r\n--${boundary}--\r\n`)]
    const stream = new ReadableStream({ start (c) { for (const p of parts) c.enqueue(p); c.close() } })
    const res = await fetch(`${api.url}/upload/file`, { method: 'POST', body: stream, duplex: 'half', headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } } as any)
    await expectError(res, 413, 'PAYLOAD_TOO_LARGE')
    const after = await (await fetch(`${api.url}/list`)).json() as any
    expect(after).toEqual(before)
    expect((await fetch(`${api.url}/info/${sha(big)}`)).status).toBe(404)
  })

  it('GET /list returns the reference array; limit/offset/after page through it', async () => {
    const all = await (await fetch(`${api.url}/list`)).json() as any
    expect(Array.isArray(all)).toBe(true)
    expect(all.length).toBeGreaterThanOrEqual(3)
    for (const item of all) {
      // the reference's fields, plus chunk_count (as /info has it)
      expect(Object.keys(item).sort()).toEqual(['chunk_count', 'cid', 'created_at', 'filename', 'hash', 'is_directory', 'mime_type', 'mod_time', 'ref_count', 'size'])
    }
    const hashes = all.map((i: any) => i.hash)
    const first = await fetch(`${api.url}/list?limit=2`)
    const page1 = await first.json() as any
    expect(page1.map((i: any) => i.hash)).toEqual(hashes.slice(0, 2))
    const link = first.headers.get('link')
    expect(link).toMatch(/rel="next"/)
    const next = /<([^>]+)>/.exec(link!)![1]
    const page2 = await (await fetch(api.url + next)).json() as any
    expect(page2.map((i: any) => i.hash)).toEqual(hashes.slice(2, 4))
    const off = await (await fetch(`${api.url}/list?offset=1&limit=1`)).json() as any
    expect(off.map((i: any) => i.hash)).toEqual(hashes.slice(1, 2))
    await expectError(await fetch(`${api.url}/list?limit=abc`), 400, 'INVALID_ARGUMENT')
    await expectError(await fetch(`${api.url}/list?after=xyz`), 400, 'INVALID_HASH')
  })
})

describe('download and view', () => {
  let hash: string
  const bytes = prng(3)(2 * 1024 * 1024 + 100)
  const name = 'résumé "final".pdf'

  beforeAll(async () => { hash = (await uploadOk(bytes, name)).hash })

  it('downloads with the reference headers', async () => {
    const res = await fetch(`${api.url}/download/${hash}`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/pdf')
    expect(res.headers.get('content-length')).toBe(String(bytes.length))
    expect(res.headers.get('etag')).toBe(`"${hash}"`)
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
    expect(res.headers.get('access-control-allow-origin')).toBe('*')
    const cd = res.headers.get('content-disposition')!
    expect(cd).toMatch(/^attachment; filename="r_sum_ _final_.pdf"; filename\*=UTF-8''/)
    expect(decodeURIComponent(/filename\*=UTF-8''(.+)$/.exec(cd)![1])).toBe(name)
    expect(sha(Buffer.from(await res.arrayBuffer()))).toBe(hash)
  })

  it('HEAD gives the headers and no body', async () => {
    const res = await fetch(`${api.url}/download/${hash}`, { method: 'HEAD' })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-length')).toBe(String(bytes.length))
    expect(res.headers.get('etag')).toBe(`"${hash}"`)
    expect((await res.arrayBuffer()).byteLength).toBe(0)
    const view = await fetch(`${api.url}/view/${hash}`, { method: 'HEAD' })
    expect(view.status).toBe(200)
    expect(view.headers.get('content-length')).toBe(String(bytes.length))
  })

  it('If-None-Match answers 304', async () => {
    for (const tag of [`"${hash}"`, `W/"${hash}"`, '*', `"other", "${hash}"`]) {
      const res = await fetch(`${api.url}/download/${hash}`, { headers: { 'if-none-match': tag } })
      expect(res.status, tag).toBe(304)
      expect(res.headers.get('etag')).toBe(`"${hash}"`)
      expect((await res.arrayBuffer()).byteLength).toBe(0)
    }
    const miss = await fetch(`${api.url}/download/${hash}`, { headers: { 'if-none-match': `"${UNKNOWN}"` } })
    expect(miss.status).toBe(200)
    await miss.arrayBuffer()
  })

  it('serves single ranges, suffix ranges and 416', async () => {
    const cases: Array<[string, number, number]> = [
      ['bytes=0-9', 0, 9],
      ['bytes=1048570-1048590', 1048570, 1048590], // across a chunk boundary
      ['bytes=2097000-', 2097000, bytes.length - 1],
      ['bytes=-100', bytes.length - 100, bytes.length - 1],
      [`bytes=10-${bytes.length + 50}`, 10, bytes.length - 1]
    ]
    for (const [range, start, end] of cases) {
      const res = await fetch(`${api.url}/download/${hash}`, { headers: { range } })
      expect(res.status, range).toBe(206)
      expect(res.headers.get('content-range')).toBe(`bytes ${start}-${end}/${bytes.length}`)
      expect(res.headers.get('content-length')).toBe(String(end - start + 1))
      expect(Buffer.from(await res.arrayBuffer()).equals(bytes.subarray(start, end + 1)), range).toBe(true)
    }
    for (const range of [`bytes=${bytes.length}-`, 'bytes=-0']) {
      const res = await fetch(`${api.url}/download/${hash}`, { headers: { range } })
      await expectError(res, 416, 'RANGE_NOT_SATISFIABLE')
      expect(res.headers.get('content-range')).toBe(`bytes */${bytes.length}`)
    }
    // several ranges are not served as multipart: the whole content comes back
    const multi = await fetch(`${api.url}/download/${hash}`, { headers: { range: 'bytes=0-1,5-6' } })
    expect(multi.status).toBe(200)
    expect((await multi.arrayBuffer()).byteLength).toBe(bytes.length)
  })

  it('GET /view/{hash} serves inline', async () => {
    const res = await fetch(`${api.url}/view/${hash}`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/pdf')
    expect(res.headers.get('content-disposition')).toMatch(/^inline/)
    expect(res.headers.get('etag')).toBe(`"${hash}"`)
    expect(sha(Buffer.from(await res.arrayBuffer()))).toBe(hash)
  })

  it('400 for malformed hashes and 404 for unknown ones, on every hash endpoint', async () => {
    const endpoints: Array<[string, string]> = [
      ['GET', '/download/%s'], ['HEAD', '/download/%s'], ['GET', '/view/%s'], ['GET', '/view/%s/a.txt'],
      ['GET', '/info/%s'], ['GET', '/entries/%s'], ['POST', '/pin/%s'], ['DELETE', '/content/%s']
    ]
    for (const [method, path] of endpoints) {
      const bad = await fetch(api.url + path.replace('%s', 'not-a-hash'), { method })
      if (method === 'HEAD') expect(bad.status).toBe(400)
      else await expectError(bad, 400, 'INVALID_HASH')
      const missing = await fetch(api.url + path.replace('%s', UNKNOWN), { method })
      if (method === 'HEAD') expect(missing.status).toBe(404)
      else {
        const body = await expectError(missing, 404, 'NOT_FOUND')
        expect(body.details.hash).toBe(UNKNOWN)
      }
    }
    await expectError(await fetch(`${api.url}/unpin/not-a-hash`, { method: 'DELETE' }), 400, 'INVALID_HASH')
  })
})

describe('folders', () => {
  let root: string
  const files: Record<string, Buffer> = {
    'index.html': Buffer.from('<!doctype html><title>site</title><a href="docs/a.txt">a</a>'),
    'docs/a.txt': Buffer.from('alpha\n'),
    'docs/deep/b.bin': prng(4)(1024 * 1024 + 3),
    'odd <name> & "q".txt': Buffer.from('escaped'),
    'ünï/cödé.txt': Buffer.from('unicode')
  }

  beforeAll(async () => {
    // curl style: the relative path is the part's filename
    const form = new FormData()
    form.append('name', 'site')
    for (const [path, bytes] of Object.entries(files)) form.append('file', new Blob([bytes]), path)
    form.append('directory', 'empty/dir')
    const res = await fetch(`${api.url}/upload/folder`, { method: 'POST', body: form })
    const text = await res.text()
    expect(res.status, text).toBe(200)
    const body = JSON.parse(text)
    expect(body).toMatchObject({ filename: 'site', is_directory: true, files: 5, message: 'Folder uploaded successfully' })
    root = body.hash
  })

  it('the folder hash equals the CLI hash of the same tree, and path fields work too', async () => {
    const tree = join(dir.path, 'site')
    for (const [path, bytes] of Object.entries(files)) {
      await mkdir(join(tree, path, '..'), { recursive: true })
      await writeFile(join(tree, path), bytes)
    }
    await mkdir(join(tree, 'empty', 'dir'), { recursive: true })
    // a second store, in-process, adds the same tree from disk
    const other = await tempDir('openhash-api-cmp-')
    const { LocalNode } = await import('../../src/node.js')
    const { loadConfig } = await import('../../src/config.js')
    const local = await LocalNode.open(loadConfig({ dataDir: other.path, env: {} }))
    try {
      expect((await local.addPath(tree)).hash).toBe(root)
    } finally {
      await local.close()
      await other.cleanup()
    }
    // browser style: a "path" field before each part (any file name)
    const form = new FormData()
    for (const [path, bytes] of Object.entries(files)) {
      form.append('path', path)
      form.append('files', new Blob([bytes]), 'blob')
    }
    form.append('directory', 'empty/dir')
    const body = await (await fetch(`${api.url}/upload/folder`, { method: 'POST', body: form })).json() as any
    expect(body.hash).toBe(root)
  })

  it('/view/{hash}/{path} serves files inside the folder with their own type', async () => {
    const res = await fetch(`${api.url}/view/${root}/docs/a.txt`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/)
    expect(res.headers.get('etag')).toBe(`"${sha(files['docs/a.txt'])}"`)
    expect(await res.text()).toBe('alpha\n')
    const uni = await fetch(`${api.url}/view/${root}/${encodeURIComponent('ünï')}/${encodeURIComponent('cödé.txt')}`)
    expect(await uni.text()).toBe('unicode')
    const range = await fetch(`${api.url}/view/${root}/docs/deep/b.bin`, { headers: { range: 'bytes=-3' } })
    expect(range.status).toBe(206)
    expect(Buffer.from(await range.arrayBuffer()).equals(files['docs/deep/b.bin'].subarray(-3))).toBe(true)
    await expectError(await fetch(`${api.url}/view/${root}/docs/missing.txt`), 404, 'NOT_FOUND')
    await expectError(await fetch(`${api.url}/view/${root}/docs/a.txt/x`), 404, 'NOT_FOUND')
  })

  it('a directory serves its index.html; without one, an escaped listing with working links', async () => {
    const index = await fetch(`${api.url}/view/${root}/`)
    expect(index.status).toBe(200)
    expect(index.headers.get('content-type')).toMatch(/^text\/html/)
    expect(await index.text()).toBe(files['index.html'].toString())
    const redirect = await fetch(`${api.url}/view/${root}`, { redirect: 'manual' })
    expect(redirect.status).toBe(301)
    expect(redirect.headers.get('location')).toBe(`/view/${root}/`)
    const sub = await fetch(`${api.url}/view/${root}/docs`, { redirect: 'manual' })
    expect(sub.status).toBe(301)
    expect(sub.headers.get('location')).toBe(`/view/${root}/docs/`)

    const page = `${api.url}/view/${root}/`
    const listing = await fetch(`${page}docs/`)
    expect(listing.status).toBe(200)
    const html = await listing.text()
    const hrefs = [...html.matchAll(/href="([^"]+)"/g)].map(m => m[1].replace(/&amp;/g, '&'))
    expect(hrefs).toEqual(['../', 'a.txt', 'deep/'])
    for (const href of hrefs) {
      const res = await fetch(new URL(href, `${page}docs/`))
      expect(res.status, href).toBe(200)
      await res.arrayBuffer()
    }
    // escaping: the odd name appears escaped, never raw
    const rootListing = await (await fetch(`${page}empty/`)).text()
    expect(rootListing).toContain('dir/')
    const top = await fetch(`${api.url}/view/${root}/${encodeURIComponent('ünï')}/`)
    expect(await top.text()).toContain('cödé.txt')
  })

  it('escapes names in listings', async () => {
    const form = new FormData()
    form.append('name', 'x')
    form.append('file', new Blob([Buffer.from('1')]), '<img src=x onerror=alert(1)>.txt')
    const body = await (await fetch(`${api.url}/upload/folder`, { method: 'POST', body: form })).json() as any
    const html = await (await fetch(`${api.url}/view/${body.hash}/`)).text()
    expect(html).not.toContain('<img')
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;.txt')
    expect(html).toContain(`href="${encodeURIComponent('<img src=x onerror=alert(1)>.txt')}"`)
  })

  it('downloads a directory as a tar archive that extracts to the same tree', async () => {
    const res = await fetch(`${api.url}/download/${root}`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/x-tar')
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="site.tar"')
    const tarBytes = Buffer.from(await res.arrayBuffer())
    expect(res.headers.get('content-length')).toBe(String(tarBytes.length))
    const out = join(dir.path, 'untar')
    await mkdir(out)
    await writeFile(join(dir.path, 'site.tar'), tarBytes)
    await execFileP('tar', ['-xf', join(dir.path, 'site.tar'), '-C', out])
    for (const [path, bytes] of Object.entries(files)) {
      expect((await readFile(join(out, 'site', path))).equals(bytes), path).toBe(true)
    }
    expect(await readdir(join(out, 'site', 'empty', 'dir'))).toEqual([])
    // the raw format refuses a directory, as a local read does
    await expectError(await fetch(`${api.url}/download/${root}?format=raw`), 400, 'IS_A_DIRECTORY')
  })

  it('GET /entries/{hash} lists a directory; a file is 404 NOT_A_DIRECTORY', async () => {
    const body = await (await fetch(`${api.url}/entries/${root}`)).json() as any
    expect(body.entries.map((e: any) => e.name)).toEqual(['docs', 'empty', 'index.html', 'odd <name> & "q".txt', 'ünï'])
    await expectError(await fetch(`${api.url}/entries/${sha(files['docs/a.txt'])}`), 404, 'NOT_A_DIRECTORY')
  })

  it('rejects unsafe or conflicting paths without storing a folder', async () => {
    for (const [paths, why] of [[['../escape.txt'], '..'], [['a.txt', 'a.txt'], 'duplicate'], [['a', 'a/b.txt'], 'conflict']] as Array<[string[], string]>) {
      const form = new FormData()
      for (const p of paths) form.append('file', new Blob([Buffer.from(p)]), p)
      const body = await expectError(await fetch(`${api.url}/upload/folder`, { method: 'POST', body: form }), 400, 'INVALID_ARGUMENT')
      expect(body.message, why).toMatch(why === '..' ? /\.\./ : why === 'duplicate' ? /duplicate/ : /conflict/)
    }
  })
})

describe('pins, rm, gc, verify', () => {
  it('pin, re-pin, pins, unpin with the reference shapes', async () => {
    const { hash } = await uploadOk(Buffer.from('pin me'), 'pin.txt')
    const pin = await (await fetch(`${api.url}/pin/${hash}?priority=5`, { method: 'POST' })).json() as any
    expect(pin).toEqual({ hash, priority: 5, state: 'pinned', message: 'Content pinned successfully' })
    expect((await (await fetch(`${api.url}/pins`)).json() as any)[hash]).toBe(5)
    const again = await (await fetch(`${api.url}/pin/${hash}`, { method: 'POST' })).json() as any
    expect(again.priority).toBe(1)
    const unpin = await (await fetch(`${api.url}/unpin/${hash}`, { method: 'DELETE' })).json() as any
    expect(unpin).toMatchObject({ hash, message: 'Content unpinned successfully', was_pinned: true })
    expect((await (await fetch(`${api.url}/pins`)).json() as any)[hash]).toBeUndefined()
    const twice = await fetch(`${api.url}/unpin/${hash}`, { method: 'DELETE' })
    expect(twice.status).toBe(200)
    expect((await twice.json() as any).was_pinned).toBe(false)
    for (const p of ['0', '101', 'abc', '1.5']) {
      await expectError(await fetch(`${api.url}/pin/${hash}?priority=${p}`, { method: 'POST' }), 400, 'INVALID_PRIORITY')
    }
    await expectError(await fetch(`${api.url}/pin/${UNKNOWN}`, { method: 'POST' }), 404, 'NOT_FOUND')
  })

  it('rm releases a local add, gc reclaims it, verify passes', async () => {
    const bytes = prng(9)(100_000)
    const { hash } = await uploadOk(bytes, 'gone.bin')
    const rm = await (await fetch(`${api.url}/content/${hash}`, { method: 'DELETE' })).json() as any
    expect(rm).toMatchObject({ hash, ref_count: 0, pinned: false })
    await expectError(await fetch(`${api.url}/content/${hash}`, { method: 'DELETE' }), 409, 'NOT_ADDED')
    const gc = await (await fetch(`${api.url}/gc`, { method: 'POST' })).json() as any
    expect(gc.objects_removed).toBeGreaterThanOrEqual(1)
    expect((await fetch(`${api.url}/info/${hash}`)).status).toBe(404)
    const verify = await (await fetch(`${api.url}/verify`, { method: 'POST' })).json() as any
    expect(verify.ok).toBe(true)
    expect(verify.problems).toEqual([])
  })
})

describe('HTTP protocol details', () => {
  it('CORS preflight answers 204 with the reference headers', async () => {
    const res = await fetch(`${api.url}/upload/file`, { method: 'OPTIONS', headers: { origin: 'http://example.test', 'access-control-request-method': 'POST' } })
    expect(res.status).toBe(204)
    expect(res.headers.get('access-control-allow-origin')).toBe('*')
    expect(res.headers.get('access-control-allow-methods')).toBe('GET, POST, PUT, DELETE, OPTIONS')
    expect(res.headers.get('access-control-allow-headers')).toBe('Content-Type, Authorization')
    const get = await fetch(`${api.url}/pins`)
    expect(get.headers.get('access-control-allow-origin')).toBe('*')
  })

  it('405 with Allow for a wrong method; 404 error JSON for unknown routes', async () => {
    const cases: Array<[string, string, string]> = [
      ['GET', '/upload/file', 'POST, OPTIONS'], ['DELETE', '/list', 'GET, HEAD, OPTIONS'],
      ['GET', `/pin/${UNKNOWN}`, 'POST, OPTIONS'], ['POST', `/download/${UNKNOWN}`, 'GET, HEAD, OPTIONS'],
      ['PUT', '/health', 'GET, HEAD, OPTIONS']
    ]
    for (const [method, path, allow] of cases) {
      const res = await fetch(api.url + path, { method })
      await expectError(res, 405, 'METHOD_NOT_ALLOWED')
      expect(res.headers.get('allow'), `${method} ${path}`).toBe(allow)
    }
    // what Allow names for a GET route works: HEAD answers like GET, without a body
    for (const path of ['/health', '/list', '/stats']) {
      const [get, head] = [await fetch(api.url + path), await fetch(api.url + path, { method: 'HEAD' })]
      await get.arrayBuffer()
      expect(head.status, path).toBe(get.status)
      expect(head.headers.get('content-type'), path).toBe(get.headers.get('content-type'))
      expect((await head.arrayBuffer()).byteLength, path).toBe(0)
    }
    await expectError(await fetch(`${api.url}/nope`), 404, 'ROUTE_NOT_FOUND')
    await expectError(await fetch(`${api.url}/download`), 404, 'ROUTE_NOT_FOUND')
  })

  it('serves the OpenAPI document and Swagger UI', async () => {
    const doc = await (await fetch(`${api.url}/openapi.json`)).json() as any
    expect(doc.openapi).toMatch(/^3\./)
    for (const path of ['/health', '/upload/file', '/upload/folder', '/download/{hash}', '/view/{hash}', '/view/{hash}/{path}', '/info/{hash}', '/list', '/pin/{hash}', '/unpin/{hash}', '/pins', '/stats', '/network']) {
      expect(doc.paths[path], path).toBeDefined()
    }
    const page = await fetch(`${api.url}/docs`)
    expect(page.status).toBe(200)
    const html = await page.text()
    for (const src of [...html.matchAll(/(?:src|href)="(\/docs\/[^"]+)"/g)].map(m => m[1])) {
      const asset = await fetch(api.url + src)
      expect(asset.status, src).toBe(200)
      expect((await asset.arrayBuffer()).byteLength).toBeGreaterThan(0)
    }
  })
})
