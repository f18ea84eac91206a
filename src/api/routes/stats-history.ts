/**
 * GET /stats/history: the last hour of the API's traffic (HTTP bytes in and
 * out, requests per second), for the web UI's dashboard charts. A sampler
 * reads the request counters of the app's metrics registry
 * (middleware/metrics.ts) every few seconds and keeps the rates in a bounded
 * ring buffer in memory; nothing is stored on disk and nothing is kept past
 * `capacity` samples. With api.metrics false there are no counters: 404, as
 * for /metrics.
 */
import type { Registry } from 'prom-client'
import { RouteNotFoundError } from '../../errors.js'
import type { ApiMetrics } from '../middleware/metrics.js'
import { Routes } from '../route.js'

export interface HistorySample {
  /** End of the interval (ISO 8601). */
  time: string
  bytes_in_per_s: number
  bytes_out_per_s: number
  requests_per_s: number
}

export interface StatsHistoryInit {
  /** Milliseconds between samples (default 5000). */
  intervalMs?: number
  /** Samples kept, oldest dropped first (default 720: an hour at 5 s). */
  capacity?: number
}

interface Totals { at: number, bytesIn: number, bytesOut: number, requests: number }

async function total (registry: Registry, name: string): Promise<number> {
  const metric = registry.getSingleMetric(name)
  if (metric === undefined) return 0
  const { values } = await metric.get()
  let sum = 0
  for (const v of values) sum += v.value
  return sum
}

/** A bounded ring of traffic rates, sampled from the counters of one metrics registry. */
export class StatsHistory {
  readonly intervalMs: number
  readonly capacity: number
  private readonly ring: HistorySample[] = []
  private next = 0
  private last: Totals | undefined
  private timer: ReturnType<typeof setInterval> | undefined

  constructor (private readonly registry: Registry, init: StatsHistoryInit = {}) {
    this.intervalMs = init.intervalMs ?? 5000
    this.capacity = init.capacity ?? 720
  }

  /** Reads the counters and, from the second call on, records the rates since the previous one. */
  async sample (now = Date.now()): Promise<void> {
    const t: Totals = {
      at: now,
      bytesIn: await total(this.registry, 'openhash_http_request_bytes_total'),
      bytesOut: await total(this.registry, 'openhash_http_response_bytes_total'),
      requests: await total(this.registry, 'openhash_http_requests_total')
    }
    const prev = this.last
    this.last = t
    if (prev === undefined || t.at <= prev.at) return
    const s = (t.at - prev.at) / 1000
    const rate = (a: number, b: number): number => Math.max(0, Math.round(((a - b) / s) * 1000) / 1000)
    const sample: HistorySample = {
      time: new Date(t.at).toISOString(),
      bytes_in_per_s: rate(t.bytesIn, prev.bytesIn),
      bytes_out_per_s: rate(t.bytesOut, prev.bytesOut),
      requests_per_s: rate(t.requests, prev.requests)
    }
    if (this.ring.length < this.capacity) this.ring.push(sample)
    else this.ring[this.next] = sample
    this.next = (this.next + 1) % this.capacity
  }

  /** Oldest first. */
  samples (): HistorySample[] {
    return this.ring.length < this.capacity ? [...this.ring] : [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)]
  }

  /** Samples every intervalMs until stop() or the signal (the timer never keeps the process alive). */
  start (signal?: AbortSignal): this {
    if (this.timer !== undefined || signal?.aborted === true) return this
    void this.sample()
    this.timer = setInterval(() => { this.sample().catch(() => {}) }, this.intervalMs)
    this.timer.unref()
    signal?.addEventListener('abort', () => this.stop(), { once: true })
    return this
  }

  stop (): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
  }
}

const histories = new WeakMap<ApiMetrics, StatsHistory>()

/** The history of an app's metrics, sampling from now on (createApp calls it once). */
export function startStatsHistory (metrics: ApiMetrics, signal?: AbortSignal, init?: StatsHistoryInit): StatsHistory {
  let h = histories.get(metrics)
  if (h === undefined) {
    h = new StatsHistory(metrics.registry, init).start(signal)
    histories.set(metrics, h)
  }
  return h
}

export const statsHistory = new Routes()

statsHistory.route({ method: 'GET', path: '/stats/history', scope: 'read', rate: 'metadata', audit: 'none' }, (c) => {
  const metrics = c.var.deps.metrics
  const h = metrics === undefined ? undefined : histories.get(metrics)
  if (h === undefined) throw new RouteNotFoundError('the stats history needs the request metrics (api.metrics is false)', { path: c.req.path })
  return c.json({ interval_s: h.intervalMs / 1000, capacity: h.capacity, samples: h.samples() })
})
