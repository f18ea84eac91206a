/**
 * Reusable memory for received chunk frames.
 *
 * A fetch receives every chunk into fresh memory (the frame is gathered from
 * the ~64 KiB pieces the connection delivers). Fresh memory is expensive in
 * bulk: each new ArrayBuffer counts as V8 external memory, and every 64 MiB
 * of it starts a full mark-compact (on a 256 MiB fetch these were ~1 CPU-s
 * of GC threads), besides page faults on first touch. The pool hands out
 * buffers whose memory was used before and takes them back once the chunk
 * is written to the store.
 *
 * Every buffer `take` returns is the sole user of its ArrayBuffer, so it may
 * be moved to a worker and back (format/hasher.ts). `give` takes the whole
 * ArrayBuffer back: the caller must be done with every view of it. Idle
 * memory is bounded (`maxIdleBytes`) and dropped after `idleMs` without use.
 */
/** ArrayBuffers smaller than this are never taken back. */
export const MIN_POOLED = 64 * 1024

export class BufferPool {
  /** Idle buffers by size. */
  private readonly idle = new Map<number, ArrayBuffer[]>()
  /** Every idle ArrayBuffer, so one given twice is never handed out twice. */
  private readonly idleSet = new Set<ArrayBuffer>()
  private idleBytes = 0
  private lastUse = 0
  private timer: NodeJS.Timeout | undefined

  constructor (private readonly maxIdleBytes: number, private readonly idleMs = 10_000) {}

  /** A buffer of exactly `size` bytes (contents undefined). */
  take (size: number): Buffer {
    this.lastUse = Date.now()
    const list = this.idle.get(size)
    const ab = list?.pop()
    if (ab === undefined) return Buffer.allocUnsafeSlow(size)
    this.idleSet.delete(ab)
    this.idleBytes -= size
    return Buffer.from(ab, 0, size)
  }

  /**
   * Take back the memory under `view` (all of its ArrayBuffer) for reuse. A
   * buffer the pool is full for, a detached one, one under MIN_POOLED bytes,
   * or one already idle is left to the garbage collector.
   */
  give (view: Uint8Array): void {
    const ab = view.buffer
    if (!(ab instanceof ArrayBuffer)) return
    const size = ab.byteLength
    // small memory may be shared (Node's Buffer pool slabs hold many small buffers) and is cheap anyway
    if (size < MIN_POOLED || this.idleSet.has(ab) || this.idleBytes + size > this.maxIdleBytes) return
    let list = this.idle.get(size)
    if (list === undefined) this.idle.set(size, list = [])
    list.push(ab)
    this.idleSet.add(ab)
    this.idleBytes += size
    this.lastUse = Date.now()
    this.armTrim()
  }

  /** Bytes held idle. */
  get idleSize (): number { return this.idleBytes }

  /** Drop every idle buffer. */
  clear (): void {
    clearTimeout(this.timer)
    this.timer = undefined
    this.idle.clear()
    this.idleSet.clear()
    this.idleBytes = 0
  }

  private armTrim (): void {
    if (this.timer !== undefined) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      if (Date.now() - this.lastUse >= this.idleMs) this.clear()
      else if (this.idleBytes > 0) this.armTrim()
    }, this.idleMs)
    this.timer.unref?.()
  }
}
