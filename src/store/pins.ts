/**
 * Pins (p/), wanted pins (pw/) and holds (h/): what keeps an object from gc
 * and eviction besides being a local add or named by a directory. Every
 * write is one synced batch under the repo's lock.
 */
import type { KvStore } from './kv.js'
import type { Mutex } from './mutex.js'
import { K, PREFIX, dec, enc, holdHash, keyName } from './keys.js'
import type { HoldRecord, PinRecord } from './records.js'
import { DEFAULT_PRIORITY, parsePriority } from '../interface.js'

export interface PinsContext {
  kv: KvStore
  /** The repo's metadata lock. */
  lock: Mutex
  /** Throws NOT_FOUND when there is no such object. */
  requireObject: (hash: string) => Promise<unknown>
}

export class Pins {
  constructor (private readonly ctx: PinsContext) {}

  async pin (hash: string, priority: number = DEFAULT_PRIORITY): Promise<PinRecord> {
    return await this.writePin(K.pin(hash), priority, async () => { await this.ctx.requireObject(hash) })
  }

  /** Returns whether it was pinned. */
  async unpin (hash: string): Promise<boolean> {
    return await this.deleteKey(K.pin(hash))
  }

  /**
   * Pins asked for content that is not here yet: kept durably until the
   * content arrives (then pinned) or the pin is withdrawn.
   */
  async wantPin (hash: string, priority: number): Promise<PinRecord> {
    return await this.writePin(K.want(hash), priority)
  }

  /** Withdraw a wanted pin; returns whether there was one. */
  async unwantPin (hash: string): Promise<boolean> {
    return await this.deleteKey(K.want(hash))
  }

  /** The content arrived: turn the wanted pin into a pin, in one batch. */
  async fulfilPin (hash: string): Promise<PinRecord | undefined> {
    const { kv, lock } = this.ctx
    return await lock.run(async () => {
      const want = await kv.get(K.want(hash))
      if (want === undefined) return undefined
      await this.ctx.requireObject(hash)
      await kv.batch([{ type: 'put', key: K.pin(hash), value: want }, { type: 'del', key: K.want(hash) }], { sync: true })
      return dec<PinRecord>(want)
    })
  }

  async wantedPins (): Promise<Map<string, PinRecord>> {
    return await this.records(PREFIX.want)
  }

  async getPin (hash: string): Promise<PinRecord | undefined> {
    const v = await this.ctx.kv.get(K.pin(hash))
    return v === undefined ? undefined : dec<PinRecord>(v)
  }

  async pins (): Promise<Map<string, PinRecord>> {
    return await this.records(PREFIX.pin)
  }

  /** Keep `hash` on behalf of `owner` (durable; the content may arrive later). */
  async hold (hash: string, owner: string, info: { size: number, priority: number }): Promise<HoldRecord> {
    const rec: HoldRecord = { owner, size: info.size, priority: info.priority, held_at: new Date().toISOString() }
    await this.ctx.lock.run(async () => {
      await this.ctx.kv.batch([{ type: 'put', key: K.hold(hash, owner), value: enc(rec) }], { sync: true })
    })
    return rec
  }

  /** Stop keeping `hash` for `owner`; returns whether there was such a hold. */
  async unhold (hash: string, owner: string): Promise<boolean> {
    return await this.deleteKey(K.hold(hash, owner))
  }

  /** Every hold, by content hash. */
  async holds (): Promise<Map<string, HoldRecord[]>> {
    const out = new Map<string, HoldRecord[]>()
    for await (const [k, v] of this.ctx.kv.iterate({ prefix: PREFIX.hold })) {
      const hash = holdHash(k)
      const list = out.get(hash) ?? []
      list.push(dec<HoldRecord>(v))
      out.set(hash, list)
    }
    return out
  }

  /** The holds of one hash (a prefix read, not a scan of every hold). */
  async holdsOf (hash: string): Promise<HoldRecord[]> {
    const out: HoldRecord[] = []
    for await (const [, v] of this.ctx.kv.iterate({ prefix: K.holds(hash) })) out.push(dec<HoldRecord>(v))
    return out
  }

  /** Whether something keeps `hash` from collection: a pin or a hold. */
  async isKept (hash: string): Promise<boolean> {
    if (await this.ctx.kv.get(K.pin(hash)) !== undefined) return true
    for await (const _ of this.ctx.kv.iterate({ prefix: K.holds(hash), limit: 1 })) return true
    return false
  }

  /** Every hash that eviction must leave alone: pinned, held, or awaited by a wanted pin. */
  async keptForEviction (): Promise<Set<string>> {
    const kept = new Set<string>()
    const { kv } = this.ctx
    for await (const [k] of kv.iterate({ prefix: PREFIX.pin })) kept.add(keyName(PREFIX.pin, k))
    for await (const [k] of kv.iterate({ prefix: PREFIX.hold })) kept.add(holdHash(k))
    // content fetched for a wanted pin is about to be pinned (fulfilPin): not evicted meanwhile
    for await (const [k] of kv.iterate({ prefix: PREFIX.want })) kept.add(keyName(PREFIX.want, k))
    return kept
  }

  /** Hashes awaited by a wanted pin. */
  async wanted (): Promise<Set<string>> {
    const out = new Set<string>()
    for await (const [k] of this.ctx.kv.iterate({ prefix: PREFIX.want })) out.add(keyName(PREFIX.want, k))
    return out
  }

  /** Write a pin record (pin or wanted pin) durably; pinning again keeps the first pinned_at. */
  private async writePin (key: string, priority: number, check?: () => Promise<void>): Promise<PinRecord> {
    const p = parsePriority(priority)
    const { kv, lock } = this.ctx
    return await lock.run(async () => {
      await check?.()
      const prev = await kv.get(key)
      const rec: PinRecord = { priority: p, pinned_at: prev === undefined ? new Date().toISOString() : dec<PinRecord>(prev).pinned_at }
      await kv.batch([{ type: 'put', key, value: enc(rec) }], { sync: true })
      return rec
    })
  }

  /** Delete a pin, wanted pin or hold; returns whether it was there. */
  private async deleteKey (key: string): Promise<boolean> {
    const { kv, lock } = this.ctx
    return await lock.run(async () => {
      if (await kv.get(key) === undefined) return false
      await kv.batch([{ type: 'del', key }], { sync: true })
      return true
    })
  }

  private async records (prefix: string): Promise<Map<string, PinRecord>> {
    const out = new Map<string, PinRecord>()
    for await (const [k, v] of this.ctx.kv.iterate({ prefix })) out.set(keyName(prefix, k), dec<PinRecord>(v))
    return out
  }
}
