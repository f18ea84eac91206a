/**
 * Re-announcing everything held on the DHT, in rounds that never overlap: the
 * next round is scheduled only once the current one has ended (@libp2p/utils
 * `repeatingTask`), and asking for a round while one runs joins it. Within a
 * round at most `concurrency` announcements run at once, pinned content first
 * by priority, then the rest; each has its own timeout, and every failure is
 * logged, never thrown.
 */
import { repeatingTask } from '@libp2p/utils'
import type { RepeatingTask } from '@libp2p/utils'
import type { Logger } from '../logger.js'

export interface ReprovideSource {
  /** Pinned hashes, most important first (they are announced first). */
  pinned: () => Promise<string[]>
  /** Whether `hash` is stored here (a pin may wait for its content). */
  has: (hash: string) => Promise<boolean>
  /** Every stored object's hash. */
  all: () => AsyncIterable<string>
  /** One announcement; rejects on failure. */
  announce: (hash: string, signal: AbortSignal) => Promise<void>
}

export interface ReprovideOptions {
  /** Pause between the end of one round and the start of the next. */
  intervalMs: number
  /** Announcements in flight at once within a round. */
  concurrency?: number
  /** Time one announcement may take. */
  timeoutMs?: number
  log: Logger
}

export const DEFAULT_REPROVIDE_CONCURRENCY = 4
export const DEFAULT_PROVIDE_TIMEOUT_MS = 60_000

export class Reprovider {
  private readonly task: RepeatingTask
  private current: Promise<number> | undefined
  private readonly shutdown = new AbortController()
  /** Rounds started so far (tests, diagnostics). */
  rounds = 0

  constructor (private readonly source: ReprovideSource, private readonly options: ReprovideOptions) {
    this.task = repeatingTask(async () => { await this.round() }, options.intervalMs)
  }

  /** Schedule rounds every `intervalMs` after the previous one ended (the first after one interval). */
  start (): void { this.task.start() }

  stop (): void {
    this.task.stop()
    this.shutdown.abort()
  }

  /** Run a round now, or join the one running; resolves with the number of objects it announced. */
  async round (): Promise<number> {
    if (this.current !== undefined) return await this.current
    const run = this.runRound().finally(() => { this.current = undefined })
    this.current = run
    return await run
  }

  private async runRound (): Promise<number> {
    this.rounds++
    const { log } = this.options
    const signal = this.shutdown.signal
    const seen = new Set<string>()
    let announced = 0
    const one = async (hash: string): Promise<void> => {
      if (signal.aborted || seen.has(hash)) return
      seen.add(hash)
      announced++
      try {
        await this.source.announce(hash, AbortSignal.any([signal, AbortSignal.timeout(this.options.timeoutMs ?? DEFAULT_PROVIDE_TIMEOUT_MS)]))
      } catch (err) {
        if (!signal.aborted) log.error('announcing %s failed: %e', hash, err)
      }
    }
    const hashes = this.ordered()
    const worker = async (): Promise<void> => {
      for (;;) {
        if (signal.aborted) return
        const next = await hashes.next()
        if (next.done === true) return
        await one(next.value)
      }
    }
    try {
      await Promise.all(Array.from({ length: Math.max(1, this.options.concurrency ?? DEFAULT_REPROVIDE_CONCURRENCY) }, worker))
    } catch (err) {
      log.error('reprovide round stopped: %e', err)
    }
    log('reprovide round %d: %d object(s) announced', this.rounds, announced)
    return announced
  }

  /** Pinned (and stored) first, then everything. The workers share it: an async generator queues their next() calls. */
  private async * ordered (): AsyncGenerator<string> {
    for (const h of await this.source.pinned()) if (await this.source.has(h)) yield h
    yield * this.source.all()
  }
}
