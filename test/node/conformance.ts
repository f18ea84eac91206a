/**
 * The OpenHashNode conformance suite: what every implementation of the node
 * interface does alike, whether it is the store in this process (LocalNode)
 * or a daemon over HTTP (OpenHashClient). Each implementation runs it with
 * its own fixture (conformance.test.ts).
 */
import { createHash } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { OpenHashNode, ProgressEvent } from '../../src/index.js'
import { collect, prng, tempDir } from '../helpers/tmp.js'

export interface NodeFixture {
  node: OpenHashNode
  close: () => Promise<void>
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const MISSING = 'f'.repeat(64)

async function code (p: Promise<unknown>): Promise<string | undefined> {
  try { await p } catch (err: any) { return err?.code }
  return undefined
}

async function * pieces (bytes: Buffer, size = 100_000): AsyncIterable<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size)
}

export function nodeConformance (name: string, open: () => Promise<NodeFixture>): void {
  describe(`OpenHashNode conformance: ${name}`, () => {
    let fx: NodeFixture
    let node: OpenHashNode
    let dir: { path: string, cleanup: () => Promise<void> }
    beforeAll(async () => { fx = await open(); node = fx.node; dir = await tempDir('openhash-conformance-') })
    afterAll(async () => { await fx?.close(); await dir?.cleanup() })

    it('addStream: the hash is the SHA-256 of the bytes; read returns them, whole and in ranges', async () => {
      const bytes = prng(7)(2_500_000)
      const events: string[] = []
      const res = await node.addStream(pieces(bytes), { filename: 'data.bin' }, { onProgress: (e) => { events.push(e.type) } })
      expect(res).toMatchObject({ hash: sha(bytes), size: bytes.length, filename: 'data.bin', is_directory: false })
      expect(Buffer.from(await collect(node.read(res.hash))).equals(bytes)).toBe(true)
      const mid = await collect(node.read(res.hash, { offset: 1_234_567, length: 1000 }))
      expect(Buffer.from(mid).equals(bytes.subarray(1_234_567, 1_235_567))).toBe(true)
      const info = await node.info(res.hash)
      expect(info).toMatchObject({ hash: res.hash, size: bytes.length, is_directory: false, filename: 'data.bin' })
      // the same bytes again: the same hash, stored once
      const again = await node.addStream(pieces(bytes, 77_777), { filename: 'copy.bin' })
      expect(again.hash).toBe(res.hash)
    })

    it('addPath of a folder: entries, nested reads, and the same hash as its parts say', async () => {
      const root = join(dir.path, 'tree')
      await mkdir(join(root, 'sub', 'empty'), { recursive: true })
      await writeFile(join(root, 'a.txt'), 'alpha\n')
      await writeFile(join(root, 'sub', 'b.txt'), 'beta\n')
      const events: ProgressEvent[] = []
      const res = await node.addPath(root, { onProgress: (e) => { events.push(e) } })
      expect(res).toMatchObject({ is_directory: true, filename: 'tree', files: 2 })
      // a folder's progress counts its files: one add:file each, the last with all bytes
      const fileEvents = events.filter(e => e.type === 'add:file')
      expect(fileEvents.map(e => e.files)).toEqual([1, 2])
      expect(fileEvents.every(e => e.files_total === 2 && e.total === 11)).toBe(true)
      expect(fileEvents[1].bytes).toBe(11)
      const entries = await node.entries(res.hash)
      expect(entries.map(e => e.name).sort()).toEqual(['a.txt', 'sub'])
      const a = entries.find(e => e.name === 'a.txt')!
      expect(a.hash).toBe(sha(Buffer.from('alpha\n')))
      expect(Buffer.from(await collect(node.read(a.hash))).toString()).toBe('alpha\n')
      const sub = entries.find(e => e.name === 'sub')!
      expect((await node.entries(sub.hash)).map(e => e.name).sort()).toEqual(['b.txt', 'empty'])
      expect((await node.info(res.hash)).is_directory).toBe(true)
      const listed = await node.list({ limit: 1000 })
      expect(listed.some(c => c.hash === res.hash)).toBe(true)
    })

    it('typed errors with stable codes', async () => {
      expect(await code(node.info('not-a-hash'))).toBe('INVALID_HASH')
      expect(await code(node.info(MISSING))).toBe('NOT_FOUND')
      expect(await code(collect(node.read(MISSING)))).toBe('NOT_FOUND')
      const file = await node.addStream(pieces(Buffer.from('just a file')), { filename: 'f.txt' })
      expect(await code(node.entries(file.hash))).toBe('NOT_A_DIRECTORY')
      expect(await code(node.pin(file.hash, 101))).toBe('INVALID_PRIORITY')
      expect(await code(node.pin(file.hash, 0))).toBe('INVALID_PRIORITY')
      expect(await code(node.pin(file.hash, 2.5))).toBe('INVALID_PRIORITY')
    })

    it('pin, pins, pinStatus, unpin, rm', async () => {
      const file = await node.addStream(pieces(Buffer.from('pin me ' + name)), { filename: 'p.txt' })
      expect(await node.pin(file.hash, 80)).toMatchObject({ hash: file.hash, priority: 80 })
      expect((await node.pins())[file.hash]).toBe(80)
      expect((await node.pinStatus())[file.hash]).toMatchObject({ priority: 80 })
      expect(await node.unpin(file.hash)).toEqual({ hash: file.hash, was_pinned: true })
      expect(await node.unpin(file.hash)).toEqual({ hash: file.hash, was_pinned: false })
      expect((await node.pins())[file.hash]).toBeUndefined()
      const rm = await node.rm(file.hash)
      expect(rm).toMatchObject({ hash: file.hash, pinned: false })
      expect(await code(node.rm(MISSING))).toBe('NOT_FOUND')
    })

    it('gc, stats, verify and health report their shapes and agree with what was stored', async () => {
      const gone = await node.addStream(pieces(prng(99)(300_000)), { filename: 'gone.bin' })
      await node.rm(gone.hash)
      const gc = await node.gc()
      expect(gc.objects_removed).toBeGreaterThanOrEqual(1)
      expect(gc.bytes_freed).toBeGreaterThanOrEqual(300_000)
      expect(await code(node.info(gone.hash))).toBe('NOT_FOUND')
      const stats = await node.stats()
      expect(stats.storage.content_count).toBeGreaterThanOrEqual(3)
      expect(stats.storage.stored_bytes).toBeGreaterThanOrEqual(2_500_000)
      const verify = await node.verify()
      expect(verify).toMatchObject({ ok: true, problems: [] })
      expect(verify.objects_checked).toBeGreaterThanOrEqual(3)
      expect(verify.bytes_checked).toBeGreaterThanOrEqual(2_500_000)
      const health = await node.health()
      expect(health.status).toBe('healthy')
      expect(health.version).toMatch(/^\d+\.\d+\.\d+/)
    })

    it('an aborted signal stops an add and stores nothing of it', async () => {
      const before = (await node.stats()).storage.content_count
      const ctrl = new AbortController()
      const source = (async function * () {
        yield prng(5)(200_000)
        ctrl.abort()
        yield prng(6)(200_000)
      })()
      expect(await code(node.addStream(source, { filename: 'aborted.bin' }, { signal: ctrl.signal }))).toBe('ABORTED')
      expect((await node.stats()).storage.content_count).toBe(before)
    })

    it('tokens: create, list, get, revoke, reactivate, renew; audit lists newest first', async () => {
      const issued = await node.createToken({ name: 'conformance', scopes: ['read'] })
      expect(typeof issued.token).toBe('string')
      expect(issued.info).toMatchObject({ name: 'conformance', scopes: ['read'], status: 'active' })
      const id = issued.info.id
      expect((await node.listTokens()).some(t => t.id === id)).toBe(true)
      expect((await node.getToken(id)).name).toBe('conformance')
      expect((await node.revokeToken(id)).status).toBe('revoked')
      expect((await node.reactivateToken(id)).status).toBe('active')
      const renewed = await node.renewToken(id, { expires_in_s: 3600 })
      expect(renewed.token).not.toBe(issued.token)
      expect(renewed.info.id).toBe(id)
      expect(await code(node.getToken('nope'))).toBe('INVALID_ARGUMENT')
      expect(await code(node.revokeToken('NOPE'))).toBe('INVALID_ARGUMENT')
      expect(await code(node.getToken('0123456789abcdef'))).toBe('NOT_FOUND')
      expect(await code(node.createToken({ scopes: ['fly'] }))).toBe('INVALID_ARGUMENT')
      const entries = await node.audit({ limit: 5 })
      expect(entries.length).toBeLessThanOrEqual(5)
      for (let i = 1; i < entries.length; i++) expect(entries[i - 1].time >= entries[i].time).toBe(true)
    })
  })
}
