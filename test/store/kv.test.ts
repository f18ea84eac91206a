import { join } from 'node:path'
import { MemoryKv } from '../../src/store/kv-memory.js'
import { LevelKv } from '../../src/store/kv-level.js'
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
