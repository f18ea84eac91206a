/**
 * Open a data directory: LevelDB metadata at <dir>/meta, chunk bytes per the
 * configured backend (<dir>/packs or <dir>/chunks-leveldb), a version record
 * checked at start, and <dir>/lock.json naming the holder (LevelDB's own lock
 * is what actually keeps a second process out).
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { ChunkStore } from './chunk-store.js'
import { LevelChunkStore } from './chunks-level.js'
import { PackChunkStore } from './chunks-pack.js'
import { LevelKv } from './kv-level.js'
import { GroupCommitKv } from './kv-group.js'
import { Repo } from './repo.js'
import { K, PREFIX } from './keys.js'
import type { KvStore } from './kv.js'
import { prefixed } from './kv.js'
import { StoreIncompatibleError, StoreLockedError } from '../errors.js'
import { asDiskFull } from '../disk-full.js'
import { SpaceReserve } from './space-reserve.js'

export const STORE_VERSION = 1
export type ChunkBackend = 'pack' | 'leveldb'

export interface StoreOptions {
  backend: ChunkBackend
  chunk_size: number
  pack_max_bytes: number
  compact_threshold: number
  verify_on_read: boolean
  /** Quota on stored unique chunk bytes (0 or absent = unlimited) and its eviction water marks. */
  max_bytes?: number
  gc_high_water?: number
  gc_low_water?: number
  /** Bytes kept free in <dir>/reserve for LevelDB on a full disk (0 or absent = no reserve; storage.disk_reserve_bytes, 8 MiB by default); see space-reserve.ts. */
  disk_reserve_bytes?: number
}

export interface LockInfo { pid: number, command: string, started_at: string, api?: string }

/** The metadata store's parts that other owners keep their records in, each a prefixed view (keys.ts PREFIX). */
export interface StoreSpaces {
  /** tk/: API tokens (auth/tokens.ts). */
  tokens: KvStore
  /** au/: the audit log (auth/audit.ts). */
  audit: KvStore
  /** rr/: replicas we asked peers to hold (net/replicator.ts). */
  replicaRequests: KvStore
  /** ra/: fetch attempts of replicas held for peers (net/replica-holder.ts). */
  replicaAttempts: KvStore
}

export interface OpenedStore {
  repo: Repo
  spaces: StoreSpaces
  dataDir: string
  close(): Promise<void>
  /** Record extra facts about the holder (e.g. the daemon's API address). */
  updateLock(extra: Partial<LockInfo>): Promise<void>
}

/**
 * Under a quota, packs of at most a sixteenth of max_bytes (and at least
 * 1 MiB): compacting one then needs little free room, and packs whose content
 * was evicted are unlinked without a copy, so disk use stays near the quota.
 */
function packBytes (options: StoreOptions): number {
  const quota = options.max_bytes ?? 0
  if (quota === 0) return options.pack_max_bytes
  return Math.min(options.pack_max_bytes, Math.max(1024 * 1024, Math.floor(quota / 16)))
}

export async function readLockInfo (dataDir: string): Promise<LockInfo | undefined> {
  try {
    return JSON.parse(await readFile(join(dataDir, 'lock.json'), 'utf8'))
  } catch {
    return undefined
  }
}

export async function openStore (dataDir: string, options: StoreOptions, command = 'openhash'): Promise<OpenedStore> {
  try {
    return await openStoreUnchecked(dataDir, options, command)
  } catch (err) {
    throw asDiskFull(err, dataDir)
  }
}

async function openStoreUnchecked (dataDir: string, options: StoreOptions, command: string): Promise<OpenedStore> {
  await mkdir(dataDir, { recursive: true })
  // before LevelDB opens: on a full disk its recovery needs the reserve's room
  // the daemon logs what the reserve does; one-shot CLI commands keep stderr for their one error line
  const log = command === 'openhash daemon' ? (line: string) => { process.stderr.write(`[store] ${line}\n`) } : undefined
  const space = new SpaceReserve(dataDir, options.disk_reserve_bytes ?? 0, log)
  await space.open()
  const onDiskFull = (): void => space.noteFull()
  // every metadata write goes through the group committer: concurrent writers share one sync
  const kv = new GroupCommitKv(new LevelKv(join(dataDir, 'meta'), { onDiskFull }))
  try {
    await kv.open()
  } catch (err: any) {
    if (err?.code === 'STORE_LOCKED') {
      const holder = await readLockInfo(dataDir)
      const who = holder === undefined ? 'another process' : `process ${holder.pid} (${holder.command}, since ${holder.started_at})`
      throw new StoreLockedError(
        `data directory ${dataDir} is in use by ${who}; stop it, or reach a running daemon with --api <url>${holder?.api !== undefined ? ` (it serves ${holder.api})` : ''}`,
        { data_dir: dataDir, pid: holder?.pid, api: holder?.api })
    }
    throw err
  }
  let chunks: ChunkStore | undefined
  try {
    const backend = await storeBackend(kv, dataDir, options.backend)
    chunks = backend === 'leveldb'
      ? new LevelChunkStore(join(dataDir, 'chunks-leveldb'), onDiskFull)
      : new PackChunkStore(join(dataDir, 'packs'), kv, { maxPackBytes: packBytes(options), compactThreshold: options.compact_threshold, space })
    await chunks.open()
  } catch (err) {
    await kv.close()
    throw err
  }
  const repo = new Repo({
    kv,
    chunks,
    chunkSize: options.chunk_size,
    verifyOnRead: options.verify_on_read,
    quota: { maxBytes: options.max_bytes ?? 0, highWater: options.gc_high_water ?? 1, lowWater: options.gc_low_water ?? 1 }
  })
  try {
    await repo.init() // the byte count the quota starts from
  } catch (err) {
    await chunks.close().catch(() => {})
    await kv.close()
    throw err
  }
  const lockPath = join(dataDir, 'lock.json')
  let lock: LockInfo = { pid: process.pid, command, started_at: new Date().toISOString() }
  await writeFile(lockPath, JSON.stringify(lock))
  const store = chunks
  let closed = false
  return {
    repo,
    spaces: {
      tokens: prefixed(kv, PREFIX.token),
      audit: prefixed(kv, PREFIX.audit),
      replicaRequests: prefixed(kv, PREFIX.replicaRequest),
      replicaAttempts: prefixed(kv, PREFIX.replicaAttempts)
    },
    dataDir,
    async updateLock (extra) {
      lock = { ...lock, ...extra }
      await writeFile(lockPath, JSON.stringify(lock)).catch((err) => { throw asDiskFull(err, dataDir) })
    },
    async close () {
      if (closed) return
      closed = true
      await repo.close()
      await rm(lockPath, { force: true })
      await store.close()
      await kv.close()
    }
  }
}

/**
 * The chunk backend of the store: a new store records `wanted` (storage.backend)
 * with the store version; an existing one keeps its own, if this openhash reads its version.
 */
async function storeBackend (kv: KvStore, dataDir: string, wanted: ChunkBackend): Promise<ChunkBackend> {
  const versionRaw = await kv.get(K.version)
  const version = versionRaw === undefined ? undefined : JSON.parse(Buffer.from(versionRaw).toString('utf8'))
  if (version === undefined) {
    await kv.batch([{ type: 'put', key: K.version, value: Buffer.from(JSON.stringify({ version: STORE_VERSION, backend: wanted, created_at: new Date().toISOString() })) }], { sync: true })
    return wanted
  }
  if (version.version !== STORE_VERSION) throw new StoreIncompatibleError(`data directory ${dataDir} has store version ${String(version.version)}; this openhash reads version ${STORE_VERSION}`)
  if (version.backend !== 'pack' && version.backend !== 'leveldb') throw new StoreIncompatibleError(`data directory ${dataDir} names an unknown chunk backend "${String(version.backend)}"`)
  return version.backend
}
