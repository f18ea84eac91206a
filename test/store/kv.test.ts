import { describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { MemoryKv } from '../../src/store/kv-memory.js'
import { LevelKv } from '../../src/store/kv-level.js'
import { prefixed } from '../../src/store/kv.js'
import { tempDir } from '../helpers/tmp.js'
import { kvCompliance } from './kv.compliance.js'

kvCompliance('MemoryKv', {
  async make () { return { store: new MemoryKv(), cleanup: async () => {} } }
})

kvCompliance('LevelKv', {
  async make () {
    const dir = await tempDir()
    const path = join(dir.path, 'db')
    return { store: new LevelKv(path), reopen: () => new LevelKv(path), cleanup: dir.cleanup }
  }
})

// a prefixed view must behave as a whole store, blind to the keys around its prefix
kvCompliance('prefixed(MemoryKv, "tk/")', {
  async make () {
    const base = new MemoryKv()
    await base.open()
    await base.batch([{ type: 'put', key: 'tk', value: Buffer.from('x') }, { type: 'put', key: 'tj/z', value: Buffer.from('x') }, { type: 'put', key: 'tl/a', value: Buffer.from('x') }])
    return { store: prefixed(base, 'tk/'), cleanup: async () => { await base.close() } }
  }
})

describe('prefixed', () => {
  it('stores its keys under the prefix in the underlying store', async () => {
    const base = new MemoryKv()
    await base.open()
    const view = prefixed(base, 'rr/')
    await view.batch([{ type: 'put', key: 'abc', value: Buffer.from('1') }])
    expect(Buffer.from((await base.get('rr/abc'))!).toString()).toBe('1')
    await base.batch([{ type: 'put', key: 'rr/def', value: Buffer.from('2') }])
    const keys: string[] = []
    for await (const [k] of view.iterate({ prefix: '' })) keys.push(k)
    expect(keys).toEqual(['abc', 'def'])
    await view.batch([{ type: 'del', key: 'abc' }])
    expect(await base.get('rr/abc')).toBeUndefined()
    await base.close()
  })
})
