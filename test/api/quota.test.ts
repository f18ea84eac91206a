/**
 * storage.max_bytes end to end: a real `openhash daemon` process with a small
 * quota (set through OPENHASH_STORAGE_* variables), real HTTP on loopback and
 * the real CLI. Released content is evicted in the background past the
 * high-water mark; an upload that cannot fit gets 507 in the error shape with
 * nothing stored or lost; the CLI prints one clear error line (through the
 * daemon and in-process); /stats and `openhash stats` show used and maximum
 * bytes; the OpenAPI document describes all of it.
 */
import { createHash } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { STATUS_BY_CODE } from '../../src/api/errors.js'
import { cliJson, expectCleanError, expectOk, runCli } from '../helpers/cli.js'
import type { DaemonProcess } from '../helpers/daemon.js'
import { startDaemon } from '../helpers/daemon.js'
import { prng, tempDir } from '../helpers/tmp.js'

const KiB = 1024
const MAX = 64 * KiB
const QUOTA_ENV = {
  OPENHASH_STORAGE_CHUNK_SIZE: '4096',
  OPENHASH_STORAGE_MAX_BYTES: String(MAX),
  OPENHASH_STORAGE_GC_HIGH_WATER: '0.9',
  OPENHASH_STORAGE_GC_LOW_WATER: '0.8'
}
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

let daemon: DaemonProcess | undefined
let work: { path: string, cleanup: () => Promise<void> }
let data: string
const rand = prng(507)
const released = rand(24 * KiB)
const kept = rand(40 * KiB)
const tooBig = rand(40 * KiB)

async function upload (bytes: Uint8Array, filename: string): Promise<Response> {
  const form = new FormData()
  form.append('file', new Blob([bytes]), filename)
  return await fetch(`${daemon!.url}/upload/file`, { method: 'POST', body: form })
}

async function stats (): Promise<any> {
  const res = await fetch(`${daemon!.url}/stats`)
  expect(res.status).toBe(200)
  return (await res.json() as any).storage
}

beforeAll(async () => {
  work = await tempDir('openhash-quota-api-')
  data = join(work.path, 'data')
  await writeFile(join(work.path, 'big.bin'), tooBig)
  daemon = await startDaemon(data, { args: ['--no-network'], env: QUOTA_ENV })
})

afterAll(async () => {
  if (daemon !== undefined) expect(await daemon.stop()).toBe(0)
  await work?.cleanup()
})

describe('storage quota through the daemon', () => {
  it('/stats shows used and maximum bytes', async () => {
    expect(await stats()).toMatchObject({ used_bytes: 0, max_bytes: MAX, gc_high_water: 0.9, gc_low_water: 0.8, evicted_objects: 0, evicted_bytes: 0 })
  })

  it('released content is evicted in the background past the high-water mark', async () => {
    const r1 = await upload(released, 'released.bin')
    expect(r1.status).toBe(200)
    expect((await fetch(`${daemon!.url}/content/${sha(released)}`, { method: 'DELETE' })).status).toBe(200)
    // 24 + 40 KiB = exactly the quota: it fits, and is past 90%
    const r2 = await upload(kept, 'kept.bin')
    expect(r2.status, await r2.clone().text()).toBe(200)
    let s = await stats()
    for (let i = 0; i < 100 && s.evicted_objects === 0; i++) {
      await new Promise(resolve => setTimeout(resolve, 50))
      s = await stats()
    }
    expect(s).toMatchObject({ used_bytes: 40 * KiB, stored_bytes: 40 * KiB, max_bytes: MAX, evicted_objects: 1, evicted_bytes: 24 * KiB })
    expect((await fetch(`${daemon!.url}/info/${sha(released)}`)).status).toBe(404)
    expect((await fetch(`${daemon!.url}/info/${sha(kept)}`)).status).toBe(200)
  })

  it('an upload that does not fit gets 507 in the error shape; nothing stored is lost', async () => {
    const before = await (await fetch(`${daemon!.url}/list`)).json()
    const res = await upload(tooBig, 'too-big.bin')
    const text = await res.text()
    expect(res.status, text).toBe(507)
    expect(res.headers.get('content-type')).toMatch(/^application\/json/)
    expect(res.headers.get('access-control-allow-origin')).toBe('*')
    const body = JSON.parse(text)
    expect(Object.keys(body).sort()).toEqual(['code', 'details', 'error', 'error_code', 'message', 'timestamp'])
    expect(body).toMatchObject({
      error: 'Insufficient Storage',
      code: 507,
      error_code: 'INSUFFICIENT_STORAGE',
      details: { max_bytes: MAX, needed_bytes: 4096 }
    })
    expect(body.message).toMatch(/^not enough storage: storage\.max_bytes is 65536 bytes/)
    expect(Number.isNaN(Date.parse(body.timestamp))).toBe(false)

    expect(await (await fetch(`${daemon!.url}/list`)).json()).toEqual(before)
    expect((await fetch(`${daemon!.url}/info/${sha(tooBig)}`)).status).toBe(404)
    const dl = await fetch(`${daemon!.url}/download/${sha(kept)}`)
    expect(dl.status).toBe(200)
    expect(sha(new Uint8Array(await dl.arrayBuffer()))).toBe(sha(kept))
    expect(await stats()).toMatchObject({ used_bytes: 40 * KiB, stored_bytes: 40 * KiB, chunk_count: 10 })
    const v = await (await fetch(`${daemon!.url}/verify`, { method: 'POST' })).json() as any
    expect(v).toMatchObject({ ok: true, problems: [], objects_checked: 1 })
  })

  it('the CLI through the daemon: one clear error line, exit 1; stats shows the quota', async () => {
    const r = await runCli(['--api', daemon!.url, 'add', join(work.path, 'big.bin')])
    const line = expectCleanError(r, /^Error: not enough storage: storage\.max_bytes is 65536 bytes/)
    expect(r.code).toBe(1)
    expect(line).toContain('nothing else can be evicted')
    expect(r.stdout).toBe('')
    const s = expectOk(await runCli(['--api', daemon!.url, 'stats']))
    expect(s.stdout).toContain('   Used: 40960 bytes of 65536 bytes (62.5%, storage.max_bytes)')
    expect(s.stdout).toContain('   Eviction: past 90% down to 80%; evicted 1 objects (24576 bytes) since start')
    const j = await cliJson(['--api', daemon!.url, 'stats'])
    expect(j.storage).toMatchObject({ used_bytes: 40 * KiB, max_bytes: MAX })
  })

  it('the in-process CLI fails the same way, and the store still verifies', async () => {
    expect(await daemon!.stop()).toBe(0)
    daemon = undefined
    const r = await runCli(['add', join(work.path, 'big.bin')], { dataDir: data, env: QUOTA_ENV })
    expectCleanError(r, /^Error: not enough storage: storage\.max_bytes is 65536 bytes/)
    expect(r.code).toBe(1)
    const v = await cliJson(['verify'], { dataDir: data, env: QUOTA_ENV })
    expect(v).toMatchObject({ ok: true, problems: [], objects_checked: 1, bytes_checked: 40 * KiB })
    const s = await cliJson(['stats'], { dataDir: data, env: QUOTA_ENV })
    expect(s.storage).toMatchObject({ used_bytes: 40 * KiB, stored_bytes: 40 * KiB, content_count: 1 })
    // without the quota the same add fits
    const ok = await cliJson(['add', join(work.path, 'big.bin')], { dataDir: data, env: { ...QUOTA_ENV, OPENHASH_STORAGE_MAX_BYTES: '0' } })
    expect(ok.hash).toBe(sha(tooBig))
  })
})

describe('the OpenAPI document', () => {
  it('documents 507 on uploads, the error code, and every /stats storage field', async () => {
    const { readFile } = await import('node:fs/promises')
    const { ROOT } = await import('../helpers/cli.js')
    const doc = JSON.parse(await readFile(join(ROOT, 'docs', 'openapi.json'), 'utf8'))
    for (const path of ['/upload/file', '/upload/folder']) {
      const r = doc.paths[path].post.responses['507']
      expect(r, path).toBeDefined()
      expect(r.content['application/json'].schema.$ref).toBe('#/components/schemas/Error')
      expect(r.content['application/json'].example).toMatchObject({ code: 507, error: 'Insufficient Storage', error_code: 'INSUFFICIENT_STORAGE' })
    }
    const codes = doc.components.schemas.ErrorCode
    expect(codes.enum).toContain('INSUFFICIENT_STORAGE')
    expect(codes.description).toContain('INSUFFICIENT_STORAGE → 507')
    expect(STATUS_BY_CODE.INSUFFICIENT_STORAGE).toBe(507)
    const storage = doc.components.schemas.Stats.properties.storage
    for (const key of ['used_bytes', 'max_bytes', 'gc_high_water', 'gc_low_water', 'evicted_objects', 'evicted_bytes']) {
      expect(storage.properties[key], key).toBeDefined()
      expect(storage.required, key).toContain(key)
    }
    expect(Object.keys(doc.paths['/stats'].get.responses['200'].content['application/json'].example.storage)).toEqual(expect.arrayContaining(['used_bytes', 'max_bytes']))
  })
})
