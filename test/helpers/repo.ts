import { openStore } from '../../src/store/open.js'
import type { ChunkBackend, OpenedStore } from '../../src/store/open.js'
import { tempDir } from './tmp.js'

/** A real store (LevelDB + chosen chunk backend) in a temp dir, with a small chunk size. */
export async function openTestStore (backend: ChunkBackend, chunkSize = 1024): Promise<OpenedStore & { cleanup: () => Promise<void> }> {
  const dir = await tempDir()
  const store = await openStore(dir.path, {
    backend,
    chunk_size: chunkSize,
    pack_max_bytes: 1024 * 1024,
    compact_threshold: 0.5,
    verify_on_read: true
  })
  return { ...store, cleanup: async () => { await store.close(); await dir.cleanup() } }
}
