/**
 * How many bytes this node holds for peers (replication.max_bytes and
 * replication.max_bytes_per_peer), resolved once at start:
 *
 * - a number is taken as it is;
 * - total "auto": a quarter of storage.max_bytes when a quota is set, else a
 *   quarter of the free space of the data directory's disk at start;
 * - per peer "auto": a quarter of the total.
 */
import { statfsSync } from 'node:fs'
import type { Config } from '../config.js'

export const AUTO_SHARE = 0.25

export interface ReplicaBudget { total: number, perPeer: number }

export function resolveReplicaBudget (replication: Config['replication'], storageMaxBytes: number, dataDir: string): ReplicaBudget {
  let total: number
  if (replication.max_bytes !== 'auto') total = replication.max_bytes
  else if (storageMaxBytes > 0) total = Math.floor(storageMaxBytes * AUTO_SHARE)
  else total = Math.floor(freeBytes(dataDir) * AUTO_SHARE)
  const perPeer = replication.max_bytes_per_peer === 'auto' ? Math.floor(total * AUTO_SHARE) : Math.min(replication.max_bytes_per_peer, total)
  return { total, perPeer }
}

function freeBytes (dir: string): number {
  try {
    const s = statfsSync(dir)
    return Number(s.bavail) * Number(s.bsize)
  } catch {
    return 0 // unknown disk: hold nothing rather than guess
  }
}
