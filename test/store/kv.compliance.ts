/**
 * Compliance suite every KvStore implementation must pass.
 * `make` returns a store (not yet opened) and, for persistent stores, a way
 * to make a second instance over the same data (to check durability).
 */
import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import type { KvStore } from '../../src/store/kv.js'

export interface KvFactory {
  make(): Promise<{ store: KvStore, reopen?: () => KvStore, cleanup: () => Promise<void> }>
}

const b = (s: string): Uint8Array => Buffer.from(s)
const s = (v: Uint8Array | undefined): string | undefined => v === undefined ? undefined : Buffer.from(v).toString()

export function kvCompliance (name: string, factory: KvFactory): void {
  describe(`KvStore compliance: ${name}`, () => {
    let store: KvStore
    let reopen: (() => KvStore) | undefined
    let cleanup: () => Promise<void>

    beforeEach(async () => {
      ({ store, reopen, cleanup } = await factory.make())
      await store.open()
    })
    afterEach(async () => {
      await store.close()
      await cleanup()
    })

    it('gets what was put, and undefined for missing keys', async () => {
      await store.batch([{ type: 'put', key: 'a/1', value: b('one') }])
      expect(s(await store.get('a/1'))).toBe('one')
      expect(await store.get('a/2')).toBeUndefined()
    })

    it('applies a batch of puts and deletes in order', async () => {
      await store.batch([
        { type: 'put', key: 'k', value: b('1') },
        { type: 'put', key: 'k', value: b('2') },
        { type: 'put', key: 'gone', value: b('x') },
        { type: 'del', key: 'gone' }
      ])
      expect(s(await store.get('k'))).toBe('2')
      expect(await store.get('gone')).toBeUndefined()
    })

    it('getMany keeps order and reports missing keys', async () => {
      await store.batch([{ type: 'put', key: 'x', value: b('X') }, { type: 'put', key: 'z', value: b('Z') }])
      const got = await store.getMany(['z', 'y', 'x'])
      expect(got.map(s)).toEqual(['Z', undefined, 'X'])
      expect(await store.getMany([])).toEqual([])
    })

    it('iterates a prefix in ascending order, with after and limit', async () => {
      const keys = ['p/c', 'p/a', 'p/b', 'q/a', 'o/z', 'p']
      await store.batch(keys.map(k => ({ type: 'put' as const, key: k, value: b(k) })))
      const all: string[] = []
      for await (const [k, v] of store.iterate({ prefix: 'p/' })) { all.push(k); expect(s(v)).toBe(k) }
      expect(all).toEqual(['p/a', 'p/b', 'p/c'])
      const after: string[] = []
      for await (const [k] of store.iterate({ prefix: 'p/', after: 'p/a' })) after.push(k)
      expect(after).toEqual(['p/b', 'p/c'])
      const limited: string[] = []
      for await (const [k] of store.iterate({ prefix: 'p/', limit: 2 })) limited.push(k)
      expect(limited).toEqual(['p/a', 'p/b'])
    })

    it('keeps binary values intact', async () => {
      const value = new Uint8Array(256).map((_, i) => i)
      await store.batch([{ type: 'put', key: 'bin', value }])
      expect(Buffer.from((await store.get('bin'))!)).toEqual(Buffer.from(value))
    })

    it('keeps synced writes across a reopen', async () => {
      if (reopen === undefined) return expect(reopen).toBeUndefined()
      await store.batch([{ type: 'put', key: 'durable', value: b('yes') }], { sync: true })
      await store.close()
      store = reopen()
      await store.open()
      expect(s(await store.get('durable'))).toBe('yes')
    })
  })
}
