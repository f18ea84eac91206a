/**
 * The idle limit on request bodies: a request whose body is still arriving
 * but of which no byte came in for `idleMs` is declared idle (`onIdle`). A
 * body that keeps moving, however slowly, is never cut: there is no limit on
 * a request's total time. One timer for the whole server scans the watched
 * requests every quarter of the limit (so a request is declared idle between
 * idleMs and 1.25 × idleMs after its last byte); nothing is done per body
 * chunk. A body the server itself stopped reading (backpressure: bytes wait
 * in the request's buffer) is not idle.
 */
import type { IncomingMessage } from 'node:http'

interface Watched { bytes: () => number, seen: number, since: number, onIdle: () => void }

export class IdleWatch {
  private readonly watched = new Map<IncomingMessage, Watched>()
  private timer: NodeJS.Timeout | undefined

  constructor (private readonly idleMs: number) {}

  /** Watch `req` until its body is complete or it is destroyed; `bytes` reads the body bytes received so far. */
  add (req: IncomingMessage, bytes: () => number, onIdle: () => void): void {
    if (this.idleMs <= 0 || req.complete) return
    this.watched.set(req, { bytes, seen: bytes(), since: Date.now(), onIdle })
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.scan(), Math.max(50, Math.floor(this.idleMs / 4)))
      this.timer.unref()
    }
  }

  private scan (): void {
    const now = Date.now()
    for (const [req, w] of this.watched) {
      if (req.complete || req.destroyed || req.socket === null || req.socket.destroyed) { this.watched.delete(req); continue }
      const bytes = w.bytes()
      if (bytes !== w.seen || req.readableLength > 0) { w.seen = bytes; w.since = now; continue }
      if (now - w.since >= this.idleMs) {
        this.watched.delete(req)
        w.onIdle()
      }
    }
    if (this.watched.size === 0) this.stop()
  }

  stop (): void {
    clearInterval(this.timer)
    this.timer = undefined
  }
}
