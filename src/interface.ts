/**
 * The types every layer shares, and the one priority rule: the node
 * interface (`OpenHashNode`, implemented in-process by LocalNode in node.ts
 * and over HTTP by OpenHashClient in client/client.ts), its DTOs, and the
 * store's result types. Types and one pure function only: importing this
 * file pulls in nothing else at run time but errors.ts.
 */
import type { DirEntry } from './format/directory.js'
import type { TreeMeta, TreePart } from './content/tree.js'
import type { CreateTokenInput, IssuedToken, TokenInfo } from './auth/tokens.js'
import type { AuditEntry, AuditQuery } from './auth/audit.js'
import type { ReplicaStatus } from './net/replicator.js'
import { InvalidPriorityError } from './errors.js'
import type { ConnectResult, ContentInfo } from './wire.js'
export type { ConnectResult, ContentInfo } from './wire.js'

export type { DirEntry, TreePart, TreeMeta }
export type { CreateTokenInput, IssuedToken, TokenInfo, AuditEntry, AuditQuery }

// ---------------------------------------------------------------- priorities

export const MIN_PRIORITY = 1
export const MAX_PRIORITY = 100
export const DEFAULT_PRIORITY = 1

/**
 * The one priority rule: an integer from MIN_PRIORITY to MAX_PRIORITY, given
 * as a number or as a string of at most three digits (no sign, spaces,
 * fraction or exponent). Throws InvalidPriorityError otherwise.
 */
export function parsePriority (value: unknown): number {
  const p = typeof value === 'string' ? (/^\d{1,3}$/.test(value) ? Number(value) : NaN) : value
  if (typeof p !== 'number' || !Number.isInteger(p) || p < MIN_PRIORITY || p > MAX_PRIORITY) {
    throw new InvalidPriorityError(`invalid priority: ${String(value)} (expected an integer from ${MIN_PRIORITY} to ${MAX_PRIORITY})`, { priority: String(value) })
  }
  return p
}

// ---------------------------------------------------------------- store results

export interface GcResult {
  objects_removed: number
  chunks_removed: number
  bytes_freed: number
  disk_bytes_reclaimed: number
  manifests_released: number
  duration_ms: number
}

export interface QuotaStatus {
  /** What the quota counts: unique chunk bytes stored (stored_bytes, plus chunks of adds still being written). */
  used_bytes: number
  /** storage.max_bytes; 0 = unlimited. */
  max_bytes: number
  /** Fractions of max_bytes: past gc_high_water after a write, cached content is evicted down to gc_low_water. */
  gc_high_water: number
  gc_low_water: number
  /** Objects and chunk bytes evicted to make room since the store was opened. */
  evicted_objects: number
  evicted_bytes: number
}

export interface VerifyProblem { kind: 'chunk' | 'object' | 'refcount' | 'manifest', hash: string, message: string }

export interface VerifyResult {
  ok: boolean
  chunks_checked: number
  objects_checked: number
  bytes_checked: number
  problems: VerifyProblem[]
}

/**
 * A long operation's progress. Adds report `add:bytes` as bytes are read and,
 * for folders, `add:file` as each file is stored; `files`/`files_total` count
 * the folder's files (done, and in all).
 */
export interface ProgressEvent { type: string, bytes?: number, total?: number, files?: number, files_total?: number, [k: string]: unknown }

export interface OperationOptions {
  signal?: AbortSignal
  onProgress?: (evt: ProgressEvent) => void
}

// ---------------------------------------------------------------- the node interface and its DTOs

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

export interface PinResult {
  hash: string
  priority: number
  /** `pinned` when the content is here; `fetching` when it is being fetched from peers first. */
  state?: 'pinned' | 'fetching'
}

/**
 * A pin's progress: pinned, or waiting for content from peers (queued,
 * fetching, failed with the last error); with the network, how far its
 * replication got (copies known, this node's included).
 */
export interface PinStatus {
  priority: number
  state: 'pinned' | 'queued' | 'fetching' | 'failed'
  error?: string
  replication?: ReplicaStatus
}
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
  } & QuotaStatus // used_bytes, max_bytes, the water marks, what was evicted (store/repo.ts)
  replication: {
    /** Copies of every pin the node keeps in the network, its own included (`replication.factor`). */
    replication_factor: number
    pinned_content: number
    /** Work waiting: pins whose copies are to be (re)counted or completed, and pins waiting for their content. */
    pending_requests: number
    /** Replication rounds and pin fetches running now. */
    in_progress: number
    /** Pins with enough copies. */
    replicated: number
    /** Pins whose replication or fetch failed (see GET /pins/status for why). */
    failed: number
    /** Content this node holds for peers, and its bytes (against `replication.max_bytes`). */
    replicas_held: number
    replica_bytes: number
  }
  network: { peer_id: string, connected_peers: number, addresses: string[] }
}

export interface NetworkInfo {
  /** Empty when the node runs without the network (the in-process CLI, or network.enabled false). */
  peer_id: string
  connected_peers: number
  peer_list: string[]
  /** Full multiaddrs, each ending in /p2p/<peer_id>. */
  addresses: string[]
  dht: { enabled: boolean, mode?: 'server' | 'client', peer_count: number, bucket_info: Array<{ prefix: string, depth: number, peers: number }> }
}

/** One page of a name search (GET /list?q=). */
export interface NameSearchPage {
  /** Matches, in hash order. */
  items: ContentInfo[]
  /** The last hash looked at: pass it as `after` to go on. Absent when the whole store has been searched. */
  next?: string
}

/** A name search's defaults: matches per page, and objects looked at per page (GET /list?q=). */
export const NAME_SEARCH_LIMIT = 100
export const NAME_SEARCH_SCAN = 10_000

export interface NameSearchOptions {
  after?: string
  /** Matches per page (default 100). */
  limit?: number
  /** Objects looked at per page at most (default 10,000; the daemon's own bound over HTTP): a page can hold fewer than `limit` matches and still have a `next`. */
  scan?: number
  signal?: AbortSignal
}

export interface HealthInfo { status: 'healthy' | 'unhealthy', timestamp: string, version: string }

export interface ReadOptions { offset?: number, length?: number, signal?: AbortSignal }

export interface OpenHashNode {
  addPath(path: string, options?: OperationOptions): Promise<AddResult>
  addStream(source: AsyncIterable<Uint8Array>, meta: { filename: string, mod_time?: string }, options?: OperationOptions & { total?: number }): Promise<AddResult>
  /** Add a directory tree whose files arrive as a stream of parts (see content/tree.ts). */
  addTree(parts: AsyncIterable<TreePart>, meta: TreeMeta, options?: OperationOptions): Promise<AddResult>
  info(hash: string, options?: { signal?: AbortSignal }): Promise<ContentInfo>
  entries(hash: string, options?: { signal?: AbortSignal }): Promise<DirEntry[]>
  read(hash: string, options?: ReadOptions): AsyncIterable<Uint8Array>
  list(options?: { after?: string, limit?: number }): Promise<ContentInfo[]>
  /** Objects whose filename contains `name`, case-insensitive, over the whole store, a bounded page at a time. */
  searchNames(name: string, options?: NameSearchOptions): Promise<NameSearchPage>
  pin(hash: string, priority?: number): Promise<PinResult>
  unpin(hash: string): Promise<UnpinResult>
  pins(): Promise<Record<string, number>>
  /** Every pin with its state, including pins still waiting for content from peers. */
  pinStatus(): Promise<Record<string, PinStatus>>
  rm(hash: string): Promise<RmResult>
  gc(options?: OperationOptions): Promise<GcResult>
  stats(): Promise<NodeStats>
  verify(options?: OperationOptions): Promise<VerifyResult>
  network(): Promise<NetworkInfo>
  /** Dial a peer by multiaddr (e.g. another daemon's `/ip4/…/tcp/…/p2p/<peer id>`). */
  connect(multiaddr: string, options?: { signal?: AbortSignal }): Promise<ConnectResult>
  health(): Promise<HealthInfo>
  // API tokens and the audit log (admin operations; over HTTP they need an admin token when auth is on)
  createToken(input: CreateTokenInput): Promise<IssuedToken>
  listTokens(): Promise<TokenInfo[]>
  getToken(id: string): Promise<TokenInfo>
  revokeToken(id: string): Promise<TokenInfo>
  reactivateToken(id: string): Promise<TokenInfo>
  /** A new secret for the same token; the old one stops working. */
  renewToken(id: string, options?: { expires_in_s?: number }): Promise<IssuedToken>
  /** Audit entries, newest first. */
  audit(query?: AuditQuery): Promise<AuditEntry[]>
  close(): Promise<void>
}
