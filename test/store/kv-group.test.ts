import { describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { MemoryKv } from '../../src/store/kv-memory.js'
import { LevelKv } from '../../src/store/kv-level.js'
import { GroupCommitKv } from '../../src/store/kv-group.js'
import type { KvOp } from '../../src/store/kv.js'
import { tempDir } from '../helpers/tmp.js'
import { kvCompliance } from './kv.compliance.js'

kvCompliance('GroupCommitKv(MemoryKv)', {
  async make () { return { store: new GroupCommitKv(new MemoryKv()), cleanup: async () => {} } }
})

kvCompliance('GroupCommitKv(LevelKv)', {
  async make () {
    const dir = await tempDir()
    const path = join(dir.path, 'db')
    return { store: new GroupCommitKv(new LevelKv(path)), reopen: () => new GroupCommitKv(new LevelKv(path)), cleanup: dir.cleanup }
  }
})

const b = (s: string): Uint8Array => Buffer.from(s)
const str = (v: Uint8Array | undefined): string | undefined => v === undefined ? undefined : Buffer.from(v).toString()

/** A MemoryKv that records each batch it is given and can be made to hold or fail the next ones. */
class Recording extends MemoryKv {
  batches: Array<{ ops: KvOp[], sync: boolean }> = []
  gate?: Promise<void>
  failNext?: Error
  readGate?: Promise<void>
  /** Hold every batch from now on until the returned function is called. */
  hold (): () => void {
    let open!: () => void
    this.gate = new Promise(resolve => { open = resolve })
    return () => { open(); this.gate = undefined }
  }

  override async getMany (keys: string[]): Promise<Array<Uint8Array | undefined>> {
    await this.readGate
    return await super.getMany(keys)
  }

  override async batch (ops: KvOp[], options: { sync?: boolean } = {}): Promise<void> {
    this.batches.push({ ops, sync: options.sync === true })
    await this.gate
    if (this.failNext !== undefined) {
      const err = this.failNext
      this.failNext = undefined
      throw err
    }
    await super.batch(ops)
  }
}

async function keys (kv: GroupCommitKv, prefix: string, extra: { after?: string, limit?: number } = {}): Promise<string[]> {
  const out: string[] = []
  for await (const [k, v] of kv.iterate({ prefix, ...extra })) out.push(`${k}=${str(v)}`)
  return out
}

/** A first synced group (key `a`) whose write is held until `open()`: what comes meanwhile gathers for the next one. */
async function groupHeld (inner: Recording, kv: GroupCommitKv): Promise<{ open: () => void, first: Promise<void> }> {
  const open = inner.hold()
  const first = kv.batch([{ type: 'put', key: 'a', value: b('0') }], { sync: true })
  await new Promise(resolve => setImmediate(resolve))
  return { open, first }
}

describe('GroupCommitKv', () => {
  it('batches that arrive while a group is written share the next group: 1 + 1 synced batches for 33 writers', async () => {
    const inner = new Recording()
    const kv = new GroupCommitKv(inner)
    await kv.open()
    const { open, first } = await groupHeld(inner, kv)
    const rest = Array.from({ length: 32 }, async (_, i) => await kv.batch([{ type: 'put', key: `k${i}`, value: b(String(i)) }], { sync: true }))
    open()
    await Promise.all([first, ...rest])
    expect(inner.batches.map(x => [x.ops.length, x.sync])).toEqual([[1, true], [32, true]])
    expect(kv.stats).toEqual({ groups: 2, batches: 33 })
    expect(str(await inner.get('k31'))).toBe('31')
  })

  it('a key written by many batches of one group is written once, with its last value (deletes too)', async () => {
    const inner = new Recording()
    const kv = new GroupCommitKv(inner)
    await kv.open()
    await kv.batch([{ type: 'put', key: 'gone', value: b('x') }], { sync: true })
    const { open, first } = await groupHeld(inner, kv)
    const rest = Array.from({ length: 20 }, async (_, i) => await kv.batch([
      { type: 'put', key: 'counters', value: b(String(i)) },
      { type: 'put', key: `k${i}`, value: b(String(i)) },
      ...(i === 10 ? [{ type: 'del' as const, key: 'gone' }] : [])
    ], { sync: true }))
    open()
    await Promise.all([first, ...rest])
    const second = inner.batches[2].ops
    expect(second).toHaveLength(20 + 1 + 1)
    expect(second.filter(o => o.key === 'counters')).toHaveLength(1)
    expect(str(await inner.get('counters'))).toBe('19')
    expect(await inner.get('gone')).toBeUndefined()
    expect(str(await kv.get('counters'))).toBe('19')
  })

  it('batches without sync that arrive while a group is written wait for the next sync: no group (and no sync) of their own', async () => {
    const inner = new Recording()
    const kv = new GroupCommitKv(inner)
    await kv.open()
    const { open, first } = await groupHeld(inner, kv)
    for (let i = 0; i < 3; i++) await kv.batch([{ type: 'put', key: `u${i}`, value: b(String(i)) }])
    open()
    await first
    await new Promise(resolve => setTimeout(resolve, 20))
    expect(inner.batches).toHaveLength(1)
    expect(str(await kv.get('u2'))).toBe('2') // pending, visible
    await kv.sync()
    expect(inner.batches.map(x => x.ops.length)).toEqual([1, 3])
  })

  it('shows a pending batch to get, getMany and iterate before it is written, and writes unsynced ones with the next sync', async () => {
    const inner = new Recording()
    const kv = new GroupCommitKv(inner)
    await kv.open()
    await kv.batch([{ type: 'put', key: 'p/a', value: b('1') }, { type: 'put', key: 'p/c', value: b('3') }, { type: 'put', key: 'p/e', value: b('5') }], { sync: true })
    await kv.batch([{ type: 'put', key: 'p/b', value: b('2') }, { type: 'del', key: 'p/c' }, { type: 'put', key: 'p/e', value: b('55') }, { type: 'put', key: 'p/f', value: b('6') }])
    expect(inner.batches).toHaveLength(1) // nothing written yet
    expect(str(await kv.get('p/b'))).toBe('2')
    expect(await kv.get('p/c')).toBeUndefined()
    expect((await kv.getMany(['p/a', 'p/c', 'p/e', 'x'])).map(str)).toEqual(['1', undefined, '55', undefined])
    expect(await keys(kv, 'p/')).toEqual(['p/a=1', 'p/b=2', 'p/e=55', 'p/f=6'])
    expect(await keys(kv, 'p/', { after: 'p/a', limit: 2 })).toEqual(['p/b=2', 'p/e=55'])
    expect(await keys(kv, 'p/', { limit: 1 })).toEqual(['p/a=1'])
    expect(await keys(kv, 'p/', { after: 'p/e' })).toEqual(['p/f=6'])
    await kv.sync()
    expect(inner.batches).toHaveLength(2)
    expect(str(await inner.get('p/e'))).toBe('55')
    expect(await inner.get('p/c')).toBeUndefined()
    expect(await keys(kv, 'p/')).toEqual(['p/a=1', 'p/b=2', 'p/e=55', 'p/f=6'])
  })

  it('getMany keeps a pending value even when its group lands while the store is read', async () => {
    const inner = new Recording()
    const kv = new GroupCommitKv(inner)
    await kv.open()
    const open = inner.hold()
    const written = kv.batch([{ type: 'put', key: 'k', value: b('pending') }], { sync: true })
    let release!: () => void
    inner.readGate = new Promise(resolve => { release = resolve })
    const read = kv.getMany(['k', 'absent'])
    inner.readGate = undefined
    open()
    await written // the group landed: 'k' left the overlay while the read waits
    release()
    expect((await read).map(str)).toEqual(['pending', undefined])
  })

  it('writes a participant\'s ops in the same group, after its prepare, and tells it how the group ended', async () => {
    const inner = new Recording()
    const kv = new GroupCommitKv(inner)
    const events: string[] = []
    kv.join({
      async prepare () { events.push(`prepare after ${inner.batches.length}`); return [{ type: 'put', key: 'idx', value: b('i') }] },
      settle (ok) { events.push(`settle ${String(ok)}`) }
    })
    await kv.open()
    await kv.batch([{ type: 'put', key: 'rec', value: b('r') }], { sync: true })
    expect(inner.batches.map(x => x.ops.map(o => o.key))).toEqual([['rec', 'idx']])
    inner.failNext = new Error('disk on fire')
    await expect(kv.sync()).rejects.toThrow('disk on fire')
    expect(events).toEqual(['prepare after 0', 'settle true', 'prepare after 1', 'settle false'])
  })

  it('a failed group drops every pending batch, rejects every waiter and moves the generation on', async () => {
    const inner = new Recording()
    const kv = new GroupCommitKv(inner)
    await kv.open()
    await kv.batch([{ type: 'put', key: 'n', value: b('1') }], { sync: true })
    const gen = kv.generation
    const open = inner.hold()
    inner.failNext = new Error('ENOSPC')
    const failing = kv.batch([{ type: 'put', key: 'n', value: b('2') }], { sync: true })
    await new Promise(resolve => setImmediate(resolve))
    // computed over the failing one: must not land either
    await kv.batch([{ type: 'put', key: 'n', value: b('3') }])
    const waiting = kv.batch([{ type: 'put', key: 'm', value: b('x') }], { sync: true })
    expect(str(await kv.get('n'))).toBe('3')
    open()
    await expect(failing).rejects.toThrow('ENOSPC')
    await expect(waiting).rejects.toThrow('ENOSPC')
    expect(kv.generation).toBe(gen + 1)
    expect(str(await kv.get('n'))).toBe('1')
    expect(await kv.get('m')).toBeUndefined()
    await expect(kv.batch([{ type: 'put', key: 'n', value: b('4') }], { sync: true, generation: gen })).rejects.toMatchObject({ code: 'UNAVAILABLE' })
    await kv.batch([{ type: 'put', key: 'n', value: b('4') }], { sync: true, generation: kv.generation })
    expect(str(await inner.get('n'))).toBe('4')
  })

  it('starts a group without a sync caller once the queue passes its bound', async () => {
    const inner = new Recording()
    const kv = new GroupCommitKv(inner, { maxQueuedOps: 10 })
    await kv.open()
    for (let i = 0; i < 25; i++) await kv.batch([{ type: 'put', key: `q${String(i).padStart(2, '0')}`, value: b('v') }])
    await new Promise(resolve => setTimeout(resolve, 10))
    expect(inner.batches.length).toBeGreaterThanOrEqual(2)
    expect(inner.batches.every(x => x.sync)).toBe(true)
    await kv.close()
    expect(inner.batches.reduce((s, x) => s + x.ops.length, 0)).toBe(25)
  })
})
