/**
 * V8 heap tuning for the long-running daemon.
 *
 * Serving a peer reads every chunk into memory of its own (1 MiB by default)
 * that stays referenced until the connection has encrypted it, a few
 * milliseconds: long enough for many of them to outlive two scavenges and
 * land in the old generation. V8 counts that memory (external, outside its
 * heap) against the old generation's allocation limit, which it sets after
 * each full collection to the live heap times a growing factor it picks
 * (V8 bounds it between 1.1 and 4). A daemon's live heap is small (~25 MiB),
 * and the limit was soon reached: serving 256 MiB took ~15
 * full mark-compacts, ~0.7 CPU-s of V8's helper threads, a quarter of all
 * the CPU both daemons used for the transfer on 2 cores.
 *
 * Pinning the factor at 4 (V8's own maximum, `--heap-growing-percent=300`)
 * lets the limit follow the live heap at the ceiling V8 would choose for a
 * growing heap: 0 full collections per 256 MiB served, measured. Memory
 * stays proportional to the live heap (at most ~4x it before a collection):
 * a daemon that had served six 256 MiB files held 226 MiB RSS instead of 175.
 * A `--heap-growing-percent` given to node (execArgv) wins.
 */
import { setFlagsFromString } from 'node:v8'

export const DAEMON_HEAP_GROWING_PERCENT = 300

/** Call before the daemon allocates much (V8 reads the factor at each full collection). */
export function tuneHeapForDaemon (execArgv: readonly string[] = process.execArgv): boolean {
  if (execArgv.some(a => a.startsWith('--heap-growing-percent') || a.startsWith('--heap_growing_percent'))) return false
  setFlagsFromString(`--heap-growing-percent=${DAEMON_HEAP_GROWING_PERCENT}`)
  return true
}
