/**
 * Pins of content that is not here yet. The wish is stored durably first
 * (Repo.wantPin); this queue fetches the content in the background, highest
 * priority first, then turns the wish into a pin (Repo.fulfilPin). A failed
 * fetch is retried after `retryMs`. State per hash: fetching, or failed with
 * the last error; a fulfilled pin is an ordinary pin.
 */
import type { Repo } from '../store/repo.js'

export type PinState = 'queued' | 'fetching' | 'failed'

export interface PinJobState { priority: number, state: PinState, error?: string, attempts: number }

export interface PinQueueOptions {
  repo: Repo
  fetch: (hash: string, signal: AbortSignal) => Promise<unknown>
  onPinned?: (hash: string, priority: number) => void
  concurrency: number
  retryMs: number
}

export class PinQueue {
  private readonly jobs = new Map<string, PinJobState & { ctrl?: AbortController, timer?: NodeJS.Timeout }>()
  private running = 0
  private stopped = false

  constructor (private readonly options: PinQueueOptions) {}

  /** Queue every wanted pin left from an earlier run. */
  async resume (): Promise<void> {
    for (const [hash, rec] of await this.options.repo.wantedPins()) this.add(hash, rec.priority)
  }

  add (hash: string, priority: number): void {
    const job = this.jobs.get(hash)
    if (job !== undefined) { job.priority = priority; return }
    this.jobs.set(hash, { priority, state: 'queued', attempts: 0 })
    this.pump()
  }

  /** Stop wanting `hash`; returns whether it was queued. */
  cancel (hash: string): boolean {
    const job = this.jobs.get(hash)
    if (job === undefined) return false
    job.ctrl?.abort()
    clearTimeout(job.timer)
    this.jobs.delete(hash)
    return true
  }

  states (): Record<string, PinJobState> {
    const out: Record<string, PinJobState> = {}
    for (const [h, j] of this.jobs) out[h] = { priority: j.priority, state: j.state, attempts: j.attempts, ...(j.error !== undefined ? { error: j.error } : {}) }
    return out
  }

  private pump (): void {
    while (!this.stopped && this.running < this.options.concurrency) {
      let best: string | undefined
      for (const [h, j] of this.jobs) {
        if (j.state === 'queued' && (best === undefined || j.priority > this.jobs.get(best)!.priority)) best = h
      }
      if (best === undefined) return
      void this.run(best)
    }
  }

  private async run (hash: string): Promise<void> {
    const job = this.jobs.get(hash)!
    job.state = 'fetching'
    job.attempts++
    job.ctrl = new AbortController()
    this.running++
    try {
      await this.options.fetch(hash, job.ctrl.signal)
      if (this.jobs.get(hash) !== job) return // cancelled meanwhile
      await this.options.repo.fulfilPin(hash)
      this.jobs.delete(hash)
      this.options.onPinned?.(hash, job.priority)
    } catch (err) {
      if (this.jobs.get(hash) !== job || this.stopped) return
      job.state = 'failed'
      job.error = String((err as Error)?.message ?? err)
      job.timer = setTimeout(() => { if (this.jobs.get(hash) === job) { job.state = 'queued'; this.pump() } }, this.options.retryMs)
      job.timer.unref()
    } finally {
      this.running--
      this.pump()
    }
  }

  stop (): void {
    this.stopped = true
    for (const j of this.jobs.values()) { j.ctrl?.abort(); clearTimeout(j.timer) }
  }
}
