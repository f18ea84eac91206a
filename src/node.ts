/**
 * The composition root: `LocalNode` runs the `OpenHashNode` interface
 * (interface.ts) in-process over a data directory; the HTTP client
 * (src/client) implements the same interface against a daemon.
 */
import type { DirEntry } from './format/directory.js'
import { importPath } from './content/importer.js'
import type { TreeMeta, TreePart } from './content/tree.js'
import { importTree } from './content/tree.js'
import { parseHash } from './format/hash.js'
import { InvalidArgumentError, throwIfAborted, UnavailableError } from './errors.js'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Config } from './config.js'
import { packageRoot } from './config.js'
import type { OpenedStore } from './store/open.js'
import { openStore } from './store/open.js'
import type { Repo } from './store/repo.js'
import type {
  AddResult, ConnectResult, ContentInfo, GcResult, HealthInfo, NameSearchOptions, NameSearchPage, NetworkInfo, NodeStats, OpenHashNode, OperationOptions, PinResult,
  PinStatus, ReadOptions, RmResult, UnpinResult, VerifyResult
} from './interface.js'
import { DEFAULT_PRIORITY, NAME_SEARCH_LIMIT, NAME_SEARCH_SCAN, parsePriority } from './interface.js'
import type { Network } from './net/network.js'
import { PinQueue } from './net/pin-queue.js'
import type { CreateTokenInput, IssuedToken, TokenInfo } from './auth/tokens.js'
import { TokenStore } from './auth/tokens.js'
import type { AuditEntry, AuditQuery } from './auth/audit.js'
import { AuditLog } from './auth/audit.js'
import type { Replicator } from './net/replicator.js'
import type { ReplicaHolder } from './net/replica-holder.js'

/** The package version (also the daemon's /health version). */
export const VERSION: string = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).version

export class LocalNode implements OpenHashNode {
  readonly repo: Repo
  private closed = false
  /** The peer network, when started (the daemon starts it; the in-process CLI does not). */
  net?: Network
  private pinQueue?: PinQueue
  private replicator?: Replicator
  private holder?: ReplicaHolder
  /** API tokens and the audit log live in the metadata store. */
  readonly tokens: TokenStore
  readonly auditLog: AuditLog

  private constructor (private readonly store: OpenedStore, private readonly config: Config) {
    this.repo = store.repo
    this.tokens = new TokenStore(store.spaces.tokens)
    this.auditLog = new AuditLog(store.spaces.audit, config.api.audit_max_entries)
  }

  static async open (config: Config, command = 'openhash'): Promise<LocalNode> {
    const store = await openStore(config.data_dir, config.storage, command)
    return new LocalNode(store, config)
  }

  get dataDir (): string { return this.store.dataDir }

  /**
   * Join the peer network: start libp2p, serve the exchange protocol, resume
   * wanted pins, and from now on announce adds and fetch what is not local.
   */
  async startNetwork (log?: (line: string) => void): Promise<Network> {
    if (this.net !== undefined) return this.net
    // loaded on demand: libp2p is a large module graph that CLI commands never need
    const { Network } = await import('./net/network.js')
    const network = await Network.start({ repo: this.repo, dataDir: this.dataDir, config: this.config.network, log })
    this.net = network
    const { ReplicaHolder } = await import('./net/replica-holder.js')
    const { Replicator } = await import('./net/replicator.js')
    const { resolveReplicaBudget } = await import('./net/replica-budget.js')
    this.holder = new ReplicaHolder({
      repo: this.repo,
      kv: this.store.spaces.replicaAttempts,
      config: this.config.replication,
      budget: resolveReplicaBudget(this.config.replication, this.config.storage.max_bytes, this.dataDir),
      maxObjectBytes: this.config.network.max_object_bytes,
      fetch: async (hash, o) => await network.fetch(hash, o),
      log
    })
    await network.serveReplication(this.holder)
    const replicator = this.replicator = new Replicator({
      repo: this.repo,
      kv: this.store.spaces.replicaRequests,
      net: network.replicationNet(),
      config: this.config.replication,
      searchTimeoutMs: Math.min(this.config.network.search_timeout_ms, 5000),
      log
    })
    this.pinQueue = new PinQueue({
      repo: this.repo,
      fetch: async (hash, signal) => await network.fetch(hash, { signal }),
      onPinned: (hash, priority) => { network.provide(hash); void replicator.add(hash, priority) },
      concurrency: this.config.network.pin_fetch_concurrency,
      retryMs: 60_000
    })
    await this.pinQueue.resume()
    await this.replicator.start()
    await this.holder.resume()
    return network
  }

  /** Local, or fetched from the network when there is one; NOT_FOUND otherwise. */
  private async ensure (hash: string, signal?: AbortSignal): Promise<void> {
    if (this.net === undefined) return
    if (await this.repo.getObject(hash) !== undefined) return
    await this.net.fetch(hash, { signal })
  }

  private announce (hash: string): void { this.net?.provide(hash) }

  /** Record the daemon's API address in the data directory's lock file (the CLI finds it there). */
  async announceApi (url: string): Promise<void> { await this.store.updateLock({ api: url }) }

  async addPath (path: string, options: OperationOptions = {}): Promise<AddResult> {
    const { record, files, directories } = await importPath(this.repo, path, { ...options, added: true })
    this.announce(record.hash)
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
    this.announce(record.hash)
    return { hash: record.hash, size: record.size, filename: record.filename, is_directory: false, mime_type: record.mime_type }
  }

  async addTree (parts: AsyncIterable<TreePart>, meta: TreeMeta, options: OperationOptions = {}): Promise<AddResult> {
    const { record, files, directories } = await importTree(this.repo, parts, meta, { ...options, added: true })
    this.announce(record.hash)
    return { hash: record.hash, size: record.size, filename: record.filename, is_directory: true, mime_type: record.mime_type, files, directories }
  }

  async info (hash: string, options: { signal?: AbortSignal } = {}): Promise<ContentInfo> {
    const h = parseHash(hash)
    await this.ensure(h, options.signal)
    return await this.repo.info(h)
  }

  async entries (hash: string, options: { signal?: AbortSignal } = {}): Promise<DirEntry[]> {
    const h = parseHash(hash)
    await this.ensure(h, options.signal)
    return await this.repo.entries(h)
  }

  read (hash: string, options: ReadOptions = {}): AsyncIterable<Uint8Array> {
    const h = parseHash(hash)
    if (this.net === undefined) return this.repo.read(h, options)
    const self = this
    return (async function * () {
      await self.ensure(h, options.signal)
      yield * self.repo.read(h, options)
    })()
  }

  async list (options: { after?: string, limit?: number } = {}): Promise<ContentInfo[]> {
    const out: ContentInfo[] = []
    for await (const info of this.repo.list(options)) out.push(info)
    return out
  }

  async searchNames (name: string, options: NameSearchOptions = {}): Promise<NameSearchPage> {
    const needle = name.toLowerCase()
    if (needle === '') throw new InvalidArgumentError('a name search needs a non-empty name')
    const limit = options.limit ?? NAME_SEARCH_LIMIT
    const scan = options.scan ?? NAME_SEARCH_SCAN
    const items: ContentInfo[] = []
    let seen = 0
    let last: string | undefined
    for await (const info of this.repo.list({ after: options.after === undefined ? undefined : parseHash(options.after) })) {
      throwIfAborted(options.signal)
      seen++
      last = info.hash
      if (info.filename.toLowerCase().includes(needle)) items.push(info)
      // a full page, or the page's share of work done: the caller goes on from `last`
      if (items.length >= limit || seen >= scan) return { items, next: last }
    }
    return { items }
  }

  /**
   * Pin local content. With the network, pinning content that is not here
   * but that some peer provides records the wish durably and fetches it in
   * the background (priority order); content nobody provides is NOT_FOUND,
   * as without the network.
   */
  async pin (hash: string, priority: number = DEFAULT_PRIORITY): Promise<PinResult> {
    const h = parseHash(hash)
    parsePriority(priority)
    if (this.pinQueue !== undefined && this.net !== undefined && await this.repo.getObject(h) === undefined && await this.net.hasProvider(h)) {
      const rec = await this.repo.wantPin(h, priority)
      this.pinQueue.add(h, rec.priority)
      return { hash: h, priority: rec.priority, state: 'fetching' }
    }
    const rec = await this.repo.pin(h, priority)
    this.announce(h)
    await this.replicator?.add(h, rec.priority)
    return { hash: h, priority: rec.priority, state: 'pinned' }
  }

  async unpin (hash: string): Promise<UnpinResult> {
    const h = parseHash(hash)
    this.pinQueue?.cancel(h)
    const wanted = await this.repo.unwantPin(h)
    const pinned = await this.repo.unpin(h)
    // withdraw our replication requests in the background: their holders may be slow or gone
    if (this.replicator !== undefined) void this.replicator.remove(h).catch(() => {})
    return { hash: h, was_pinned: pinned || wanted }
  }

  async pins (): Promise<Record<string, number>> {
    const out: Record<string, number> = {}
    for (const [h, rec] of await this.repo.pins()) out[h] = rec.priority
    for (const [h, rec] of await this.repo.wantedPins()) out[h] = rec.priority
    return out
  }

  async pinStatus (): Promise<Record<string, PinStatus>> {
    const out: Record<string, PinStatus> = {}
    const replication = this.replicator?.status() ?? {}
    for (const [h, rec] of await this.repo.pins()) out[h] = { priority: rec.priority, state: 'pinned', ...(replication[h] !== undefined ? { replication: replication[h] } : {}) }
    const jobs = this.pinQueue?.states() ?? {}
    for (const [h, rec] of await this.repo.wantedPins()) {
      const job = jobs[h]
      out[h] = { priority: rec.priority, state: job?.state ?? 'queued', ...(job?.error !== undefined ? { error: job.error } : {}) }
    }
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
        chunk_size: this.config.storage.chunk_size,
        ...await this.repo.quotaStatus()
      },
      replication: await this.replicationStats(pins.size),
      network: this.net === undefined
        ? { peer_id: '', connected_peers: 0, addresses: [] }
        : (({ peer_id, connected_peers, addresses }) => ({ peer_id, connected_peers, addresses }))(this.net.state())
    }
  }

  private async replicationStats (pinned: number): Promise<NodeStats['replication']> {
    const r = this.replicator?.counts() ?? { pending: 0, in_progress: 0, replicated: 0, failed: 0 }
    const q = Object.values(this.pinQueue?.states() ?? {})
    const held = await this.holder?.stats()
    return {
      // without the network (the in-process CLI) nothing replicates: the local copy is the only one
      replication_factor: this.replicator?.factor ?? this.config.replication.factor,
      pinned_content: pinned,
      pending_requests: r.pending + q.filter(j => j.state === 'queued').length,
      in_progress: r.in_progress + q.filter(j => j.state === 'fetching').length,
      replicated: r.replicated,
      failed: r.failed + q.filter(j => j.state === 'failed').length,
      replicas_held: held?.replicas_held ?? (await this.repo.holds()).size,
      replica_bytes: held?.replica_bytes ?? 0
    }
  }

  async network (): Promise<NetworkInfo> {
    if (this.net !== undefined) return this.net.state()
    return { peer_id: '', connected_peers: 0, peer_list: [], addresses: [], dht: { enabled: false, peer_count: 0, bucket_info: [] } }
  }

  async connect (multiaddr: string, options: { signal?: AbortSignal } = {}): Promise<ConnectResult> {
    if (this.net === undefined) throw new UnavailableError('the peer network is off (the daemon runs with --no-network): there is nothing to connect', { multiaddr })
    return await this.net.dial(multiaddr, options.signal)
  }

  async health (): Promise<HealthInfo> {
    return { status: this.closed ? 'unhealthy' : 'healthy', timestamp: new Date().toISOString(), version: VERSION }
  }

  async verify (options: OperationOptions = {}): Promise<VerifyResult> {
    return await this.repo.verify(options)
  }

  async createToken (input: CreateTokenInput): Promise<IssuedToken> { return await this.tokens.create(input) }
  async listTokens (): Promise<TokenInfo[]> { return await this.tokens.list() }
  async getToken (id: string): Promise<TokenInfo> { return await this.tokens.get(id) }
  async revokeToken (id: string): Promise<TokenInfo> { return await this.tokens.revoke(id) }
  async reactivateToken (id: string): Promise<TokenInfo> { return await this.tokens.reactivate(id) }
  async renewToken (id: string, options: { expires_in_s?: number } = {}): Promise<IssuedToken> { return await this.tokens.renew(id, options.expires_in_s) }
  async audit (query: AuditQuery = {}): Promise<AuditEntry[]> { return await this.auditLog.list(query) }

  async close (): Promise<void> {
    this.closed = true
    await this.tokens.close().catch(() => {})
    await this.auditLog.flush().catch(() => {})
    this.pinQueue?.stop()
    this.replicator?.stop()
    this.holder?.stop()
    await this.net?.stop().catch(() => {})
    await this.store.close()
  }
}
