/**
 * A lying peer for tests: a real libp2p node (test/helpers/net.ts) serving
 * the exchange protocol with a made-up object of any claimed size: OBJECT
 * answers its metadata, every CHUNKS request gets as many random hashes as
 * it asks for, BLOCK requests hang or are NOT_FOUND.
 */
import { randomBytes } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'
import { EXCHANGE_PROTOCOL, serveExchange } from '../../src/net/exchange.js'
import { REPLICATE_PROTOCOL, REQ_REPLICATE, RES_ACCEPTED, ReplicateCall } from '../../src/net/replicate.js'
import type { ObjectRecord, Repo } from '../../src/store/repo.js'
import type { TestNode } from './net.js'

export const HUGE = 2 ** 52

export interface Liar { hash: string, pages: () => number, blocks: () => number }

export async function lie (n: TestNode, options: { size?: number, chunkSize?: number, blocks: 'hang' | 'missing', hash?: string }): Promise<Liar> {
  const hash = options.hash ?? randomBytes(32).toString('hex')
  const size = options.size ?? HUGE
  const cs = options.chunkSize ?? 1024 * 1024
  let pages = 0
  let blocks = 0
  const repo = n.node.repo
  const now = new Date().toISOString()
  const fake = {
    hash,
    filename: 'huge.bin',
    mime_type: 'application/octet-stream',
    size,
    mod_time: now,
    created_at: now,
    is_directory: false,
    chunk_count: Math.ceil(size / cs),
    chunk_size: cs,
    refs: 0,
    added: true
  } as unknown as ObjectRecord
  const overrides: Record<string, unknown> = {
    getObject: async (h: string) => h === hash ? fake : await repo.getObject(h),
    manifestChunks: async function * (rec: ObjectRecord, from?: number) {
      if (rec.hash !== hash) { yield * repo.manifestChunks(rec, from); return }
      pages++
      for (;;) yield randomBytes(32).toString('hex')
    },
    readChunk: async (h: string, o?: any) => {
      try { return await repo.readChunk(h, o) } catch {}
      blocks++
      if (options.blocks === 'hang') return await new Promise<never>(() => {})
      throw new Error('not here')
    }
  }
  const evil = new Proxy(repo, {
    get (target, prop) {
      if (typeof prop === 'string' && prop in overrides) return overrides[prop]
      const v = Reflect.get(target, prop, target)
      return typeof v === 'function' ? v.bind(target) : v
    }
  }) as Repo
  await n.node.net!.libp2p.unhandle(EXCHANGE_PROTOCOL)
  await n.node.net!.libp2p.handle(EXCHANGE_PROTOCOL, (stream) => { void serveExchange(evil, stream).catch(() => {}) })
  return { hash, pages: () => pages, blocks: () => blocks }
}

export interface Answer { kind: number, body: Record<string, unknown> }

/** `from` asks `to` (a peer id) to hold `hash` as `size` bytes over /openhash/replicate/1.0.0; the answers it got. */
export async function replicateRequest (from: TestNode, to: string, hash: string, size: number, storeTimeoutMs = 15_000): Promise<Answer[]> {
  const stream = await from.node.net!.libp2p.dialProtocol(peerIdFromString(to), REPLICATE_PROTOCOL, { signal: AbortSignal.timeout(5000) })
  const call = new ReplicateCall(stream)
  const out: Answer[] = []
  try {
    await call.send(REQ_REPLICATE, { hash, size, priority: 1 })
    const first = await call.answer(5000)
    out.push(first)
    if (first.kind === RES_ACCEPTED) out.push(await call.answer(storeTimeoutMs))
  } finally {
    await call.close()
  }
  return out
}
