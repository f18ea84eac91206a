/**
 * The composition root and the one interface the CLI and the HTTP API talk
 * to. `LocalNode` runs in-process over a data directory; the HTTP client
 * (src/client) implements the same `OpenHashNode` against a daemon.
 */
import type { DirEntry } from './content/directory.js'
import { importPath } from './content/importer.js'
import type { TreeMeta, TreePart } from './content/tree.js'
import { importTree } from './content/tree.js'
import { parseHash } from './content/hash.js'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Config } from './config.js'
import { packageRoot } from './config.js'
import type { OpenedStore } from './store/open.js'
import { openStore } from './store/open.js'
import type { ContentInfo, GcResult, OperationOptions, PinRecord, VerifyResult } from './store/repo.js'
import { DEFAULT_PRIORITY, MAX_PRIORITY, MIN_PRIORITY, Repo } from './store/repo.js'

export type { ContentInfo, GcResult, VerifyResult, PinRecord, OperationOptions, DirEntry, TreePart, TreeMeta }

export interface AddResult {
  hash: string
  size: number
  filename: string
  is_directory: boolean
  mime_type: string
  /** For directories: files and directories imported (the root included). */
  files?: number
  directories?: number
}

export interface PinResult { hash: string, priority: number }
export interface UnpinResult { hash: string, was_pinned: boolean }
export interface RmResult { hash: string, ref_count: number, pinned: boolean }

export interface NodeStats {
  storage: {
    content_count: number
    file_count: number
    directory_count: number
    chunk_count: number
    /** Bytes of unique chunks stored. */
    stored_bytes: number
    /** Sum of the sizes of all file objects (what they would take without dedup). */
    logical_bytes: number
    dedup_ratio: number
    disk_bytes?: number
    backend: string
    chunk_size: number
  }
  replication: {
    /** Copies the node aims to keep of pinned content (only the local copy until replication lands). */
    replication_factor: number
    pinned_content: number
    pending_requests: number
  }
  network: { peer_id: string, connected_peers: number, addresses: string[] }
}

export interface NetworkInfo {
  /** Empty until the peer network (libp2p) lands. */
  peer_id: string
  connected_peers: number
  peer_list: string[]
  addresses: string[]
  dht: { enabled: boolean, peer_count: number, bucket_info: Array<{ index: number, peers: number }> }
}

export interface HealthInfo { status: 'healthy' | 'unhealthy', timestamp: string, version: string }

export interface ReadOptions { offset?: number, length?: number, signal?: AbortSignal }

export interface OpenHashNode {
  addPath(path: string, options?: OperationOptions): Promise<AddResult>
  addStream(source: AsyncIterable<Uint8Array>, meta: { filename: string, mod_time?: string }, options?: OperationOptions & { total?: number }): Promise<AddResult>
  /** Add a directory tree whose files arrive as a stream of parts (see content/tree.ts). */
  addTree(parts: AsyncIterable<TreePart>, meta: TreeMeta, options?: OperationOptions): Promise<AddResult>
  info(hash: string): Promise<ContentInfo>
  entries(hash: string): Promise<DirEntry[]>
  read(hash: string, options?: ReadOptions): AsyncIterable<Uint8Array>
  list(options?: { after?: string, limit?: number }): Promise<ContentInfo[]>
  pin(hash: string, priority?: number): Promise<PinResult>
  unpin(hash: string): Promise<UnpinResult>
  pins(): Promise<Record<string, number>>
  rm(hash: string): Promise<RmResult>
  gc(options?: OperationOptions): Promise<GcResult>
  stats(): Promise<NodeStats>
  verify(options?: OperationOptions): Promise<VerifyResult>
  network(): Promise<NetworkInfo>
  health(): Promise<HealthInfo>
  close(): Promise<void>
}

/** The package version (also the daemon's /health version). */
export const VERSION: string = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).version

export { MIN_PRIORITY, MAX_PRIORITY, DEFAULT_PRIORITY }

export class LocalNode implements OpenHashNode {
  readonly repo: Repo
  private closed = false

  private constructor (private readonly store: OpenedStore, private readonly config: Config) {
    this.repo = store.repo
  }

  static async open (config: Config, command = 'openhash'): Promise<LocalNode> {
    const store = await openStore(config.data_dir, config.storage, command)
    return new LocalNode(store, config)
  }

  get dataDir (): string { return this.store.dataDir }

  /** Record the daemon's API address in the data directory's lock file (the CLI finds it there). */
  async announceApi (url: string): Promise<void> { await this.store.updateLock({ api: url }) }

  async addPath (path: string, options: OperationOptions = {}): Promise<AddResult> {
    const { record, files, directories } = await importPath(this.repo, path, { ...options, added: true })
    return {
      hash: record.hash,
      size: record.size,
      filename: record.filename,
      is_directory: record.is_directory,
      mime_type: record.mime_type,
      ...(record.is_directory ? { files, directories } : {})
    }
  }

  async addStream (source: AsyncIterable<Uint8Array>, meta: { filename: string, mod_time?: string }, options: OperationOptions & { total?: number } = {}): Promise<AddResult> {
    const record = await this.repo.importFile(source, meta, { ...options, added: true })
    return { hash: record.hash, size: record.size, filename: record.filename, is_directory: false, mime_type: record.mime_type }
  }

  async addTree (parts: AsyncIterable<TreePart>, meta: TreeMeta, options: OperationOptions = {}): Promise<AddResult> {
    const { record, files, directories } = await importTree(this.repo, parts, meta, { ...options, added: true })
    return { hash: record.hash, size: record.size, filename: record.filename, is_directory: true, mime_type: record.mime_type, files, directories }
  }

  async info (hash: string): Promise<ContentInfo> {
    return await this.repo.info(parseHash(hash))
  }

  async entries (hash: string): Promise<DirEntry[]> {
    return await this.repo.entries(parseHash(hash))
  }

  read (hash: string, options: ReadOptions = {}): AsyncIterable<Uint8Array> {
    return this.repo.read(parseHash(hash), options)
  }

  async list (options: { after?: string, limit?: number } = {}): Promise<ContentInfo[]> {
    const out: ContentInfo[] = []
    for await (const info of this.repo.list(options)) out.push(info)
    return out
  }

  async pin (hash: string, priority: number = DEFAULT_PRIORITY): Promise<PinResult> {
    const h = parseHash(hash)
    const rec = await this.repo.pin(h, priority)
    return { hash: h, priority: rec.priority }
  }

  async unpin (hash: string): Promise<UnpinResult> {
    const h = parseHash(hash)
    return { hash: h, was_pinned: await this.repo.unpin(h) }
  }

  async pins (): Promise<Record<string, number>> {
    const out: Record<string, number> = {}
    for (const [h, rec] of await this.repo.pins()) out[h] = rec.priority
    return out
  }

  async rm (hash: string): Promise<RmResult> {
    const h = parseHash(hash)
    const info = await this.repo.rm(h)
    return { hash: h, ref_count: info.ref_count, pinned: (await this.repo.getPin(h)) !== undefined }
  }

  async gc (options: OperationOptions = {}): Promise<GcResult> {
    return await this.repo.gc(options)
  }

  async stats (): Promise<NodeStats> {
    const counters = await this.repo.counters()
    const chunks = await this.repo.chunks.stats()
    const pins = await this.repo.pins()
    return {
      storage: {
        content_count: counters.objects,
        file_count: counters.files,
        directory_count: counters.directories,
        chunk_count: chunks.count,
        stored_bytes: chunks.bytes,
        logical_bytes: counters.logical_bytes,
        dedup_ratio: chunks.bytes === 0 ? 1 : Math.round(counters.logical_bytes / chunks.bytes * 1000) / 1000,
        ...(chunks.disk_bytes !== undefined ? { disk_bytes: chunks.disk_bytes } : {}),
        backend: this.repo.chunks.backend,
        chunk_size: this.config.storage.chunk_size
      },
      replication: { replication_factor: 1, pinned_content: pins.size, pending_requests: 0 },
      network: { peer_id: '', connected_peers: 0, addresses: [] }
    }
  }

  async network (): Promise<NetworkInfo> {
    return { peer_id: '', connected_peers: 0, peer_list: [], addresses: [], dht: { enabled: false, peer_count: 0, bucket_info: [] } }
  }

  async health (): Promise<HealthInfo> {
    return { status: this.closed ? 'unhealthy' : 'healthy', timestamp: new Date().toISOString(), version: VERSION }
  }

  async verify (options: OperationOptions = {}): Promise<VerifyResult> {
    return await this.repo.verify(options)
  }

  async close (): Promise<void> {
    this.closed = true
    await this.store.close()
  }
}
