/**
 * --json on every command: stdout is exactly one JSON document with the
 * documented fields (README, CLI reference), nothing on stderr.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cliJson, freshDataDir, sha256sum, CHUNK } from '../helpers/cli.js'

const HASH = /^[0-9a-f]{64}$/
const INFO_KEYS = ['hash', 'cid', 'filename', 'mime_type', 'size', 'mod_time', 'chunk_count', 'is_directory', 'created_at', 'ref_count']

describe('--json on every command', () => {
  let data: { path: string, cleanup: () => Promise<void> }
  let work: { path: string, cleanup: () => Promise<void> }
  let fileHash: string
  let dirHash: string
  const o = (): { dataDir: string } => ({ dataDir: data.path })

  beforeAll(async () => {
    data = await freshDataDir()
    work = await freshDataDir('openhash-cli-files-')
    await writeFile(join(work.path, 'hello.txt'), 'hello world\n')
    await mkdir(join(work.path, 'folder', 'sub'), { recursive: true })
    await writeFile(join(work.path, 'folder', 'a.txt'), 'a\n')
    await writeFile(join(work.path, 'folder', 'sub', 'b.json'), '{"b":1}\n')
  })
  afterAll(async () => {
    await data.cleanup()
    await work.cleanup()
  })

  it('add (file and directory)', async () => {
    const f = await cliJson(['add', join(work.path, 'hello.txt')], o())
    expect(f).toEqual({
      hash: await sha256sum(join(work.path, 'hello.txt')),
      size: 12,
      filename: 'hello.txt',
      is_directory: false,
      mime_type: 'text/plain',
      message: 'File uploaded successfully'
    })
    fileHash = f.hash
    const d = await cliJson(['add', join(work.path, 'folder')], o())
    expect(d).toMatchObject({ size: 10, filename: 'folder', is_directory: true, files: 2, directories: 2, message: 'Directory uploaded successfully' })
    expect(d.hash).toMatch(HASH)
    dirHash = d.hash
  })

  it('get -o <path>', async () => {
    const out = join(work.path, 'out.txt')
    const g = await cliJson(['get', fileHash, '-o', out], o())
    expect(g).toEqual({ hash: fileHash, path: out, files: 1, directories: 0, bytes: 12 })
    const gd = await cliJson(['get', dirHash, '-o', join(work.path, 'out-dir')], o())
    expect(gd).toEqual({ hash: dirHash, path: join(work.path, 'out-dir'), files: 2, directories: 2, bytes: 10 })
  })

  it('get without -o (file preview, directory entries)', async () => {
    const g = await cliJson(['get', fileHash], o())
    expect(Object.keys(g)).toEqual(expect.arrayContaining([...INFO_KEYS, 'preview']))
    expect(g).toMatchObject({ hash: fileHash, filename: 'hello.txt', size: 12, is_directory: false, preview: 'hello world\n' })
    const d = await cliJson(['get', dirHash], o())
    expect(d).toMatchObject({ hash: dirHash, is_directory: true, size: 10 })
    expect(d.entries).toHaveLength(2)
    expect(d.entries.map((e: any) => [e.name, e.type, e.size])).toEqual([['a.txt', 'file', 2], ['sub', 'dir', 8]])
    for (const e of d.entries) expect(e.hash).toMatch(HASH)
  })

  it('view', async () => {
    const v = await cliJson(['view', fileHash], o())
    expect(Object.keys(v).sort()).toEqual([...INFO_KEYS, 'pinned', 'priority'].sort())
    expect(v).toMatchObject({ hash: fileHash, filename: 'hello.txt', mime_type: 'text/plain', size: 12, chunk_count: 1, is_directory: false, ref_count: 1, pinned: false, priority: null })
    expect(Number.isNaN(Date.parse(v.mod_time))).toBe(false)
    expect(Number.isNaN(Date.parse(v.created_at))).toBe(false)
    const vd = await cliJson(['view', dirHash], o())
    expect(vd).toMatchObject({ hash: dirHash, is_directory: true, ref_count: 1 })
  })

  it('list', async () => {
    const l = await cliJson(['list'], o())
    expect(Array.isArray(l)).toBe(true)
    // hello.txt, folder, a.txt, sub, b.json
    expect(l).toHaveLength(5)
    const hashes = l.map((i: any) => i.hash)
    expect(hashes).toEqual([...hashes].sort())
    expect(hashes).toContain(fileHash)
    expect(hashes).toContain(dirHash)
    for (const i of l) expect(Object.keys(i)).toEqual(expect.arrayContaining(INFO_KEYS))
  })

  it('pin, pins, unpin', async () => {
    expect(await cliJson(['pin', fileHash, '-p', '50'], o())).toEqual({ hash: fileHash, priority: 50, state: 'pinned', message: 'Content pinned successfully' })
    expect(await cliJson(['pins'], o())).toEqual({ [fileHash]: 50 })
    expect(await cliJson(['unpin', fileHash], o())).toEqual({ hash: fileHash, was_pinned: true, message: 'Content unpinned successfully' })
    expect(await cliJson(['unpin', fileHash], o())).toEqual({ hash: fileHash, was_pinned: false, message: 'Content unpinned successfully' })
    expect(await cliJson(['pins'], o())).toEqual({})
  })

  it('stats', async () => {
    const s = await cliJson(['stats'], o())
    expect(s).toEqual({
      storage: {
        content_count: 5,
        file_count: 3,
        directory_count: 2,
        chunk_count: 3,
        stored_bytes: 22,
        logical_bytes: 22,
        dedup_ratio: 1,
        disk_bytes: expect.any(Number),
        backend: 'pack',
        chunk_size: CHUNK,
        used_bytes: 22,
        max_bytes: 0,
        gc_high_water: 0.9,
        gc_low_water: 0.8,
        evicted_objects: 0,
        evicted_bytes: 0
      },
      // the configured factor; nothing replicates without the daemon's network
      replication: { replication_factor: 3, pinned_content: 0, pending_requests: 0, in_progress: 0, replicated: 0, failed: 0, replicas_held: 0, replica_bytes: 0 },
      network: { peer_id: '', connected_peers: 0, addresses: [] }
    })
  })

  it('verify', async () => {
    const v = await cliJson(['verify'], o())
    expect(v).toEqual({ ok: true, chunks_checked: 3, objects_checked: 5, bytes_checked: 22, problems: [] })
  })

  it('rm and gc', async () => {
    expect(await cliJson(['rm', fileHash], o())).toEqual({ hash: fileHash, ref_count: 0, pinned: false, message: 'Local add released' })
    const g = await cliJson(['gc'], o())
    expect(Object.keys(g).sort()).toEqual(['bytes_freed', 'chunks_removed', 'disk_bytes_reclaimed', 'duration_ms', 'manifests_released', 'objects_removed'])
    expect(g).toMatchObject({ objects_removed: 1, chunks_removed: 1, bytes_freed: 12 })
    const l = await cliJson(['list'], o())
    expect(l.map((i: any) => i.hash)).not.toContain(fileHash)
    expect(l).toHaveLength(4)
  })

  it('empty store: list [], pins {}, stats zeros', async () => {
    const empty = await freshDataDir()
    try {
      expect(await cliJson(['list'], { dataDir: empty.path })).toEqual([])
      expect(await cliJson(['pins'], { dataDir: empty.path })).toEqual({})
      const s = await cliJson(['stats'], { dataDir: empty.path })
      expect(s.storage).toMatchObject({ content_count: 0, chunk_count: 0, stored_bytes: 0, logical_bytes: 0, dedup_ratio: 1 })
      expect(await cliJson(['verify'], { dataDir: empty.path })).toMatchObject({ ok: true, problems: [] })
      expect(await cliJson(['gc'], { dataDir: empty.path })).toMatchObject({ objects_removed: 0, chunks_removed: 0 })
    } finally {
      await empty.cleanup()
    }
  })
})
