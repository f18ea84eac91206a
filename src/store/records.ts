/**
 * The repo's records: what its keys (keys.ts) hold, and how a stored object
 * is shown (ContentInfo).
 */
import { cidString } from '../format/cid.js'
import type { ContentInfo } from '../interface.js'
import type { KvStore } from './kv.js'
import { K, dec } from './keys.js'

export interface ObjectRecord {
  hash: string
  filename: string
  mime_type: string
  size: number
  mod_time: string
  created_at: string
  is_directory: boolean
  chunk_count: number
  /** Chunk size the file was split with (files only). */
  chunk_size?: number
  /** Manifest id (files only). */
  manifest?: string
  /** Number of directory entries (directories only). */
  entry_count?: number
  added: boolean
  refs: number
}

export interface PinRecord { priority: number, pinned_at: string }

/**
 * Content kept on someone else's behalf (a replica held for a peer): like a
 * pin, it keeps the object from gc and eviction, but it is not the user's pin.
 */
export interface HoldRecord { owner: string, size: number, priority: number, held_at: string }

export interface Counters { objects: number, files: number, directories: number, logical_bytes: number }

/** ms/<mid>: a manifest's state (see repo.ts). */
export interface ManifestState { state: 'staging' | 'live' | 'released', object?: string, created_at: string }

/** An object as shown: its record, with ref_count = refs + (added ? 1 : 0). */
export function toInfo (rec: ObjectRecord): ContentInfo {
  return {
    hash: rec.hash,
    cid: cidString(rec.hash),
    filename: rec.filename,
    mime_type: rec.mime_type,
    size: rec.size,
    mod_time: rec.mod_time,
    chunk_count: rec.chunk_count,
    is_directory: rec.is_directory,
    created_at: rec.created_at,
    ref_count: rec.refs + (rec.added ? 1 : 0)
  }
}

/** meta/counters: objects, files, directories and logical bytes stored. */
export async function readCounters (kv: Pick<KvStore, 'get'>): Promise<Counters> {
  const v = await kv.get(K.counters)
  return v === undefined ? { objects: 0, files: 0, directories: 0, logical_bytes: 0 } : dec<Counters>(v)
}
