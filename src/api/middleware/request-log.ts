/**
 * The request log: one line per finished request, as text (the classic
 * one-liner) or as a JSON object per line, filtered by level. Severity comes
 * from the outcome: 5xx are `error`, 4xx and responses cut short are `warn`,
 * the rest `info`. A request whose client left before any byte of an answer
 * reached it was never answered: its status is `-` (text) or null (JSON),
 * whatever the app had chosen.
 */
import type { Principal } from './request-info.js'

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent'
export type LogFormat = 'text' | 'json'

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 }

export interface RequestRecord {
  time: Date
  method: string
  /** Path and query as requested (secrets in the query are masked before writing). */
  url: string
  /** Route pattern, `unmatched` for unknown paths. */
  route: string
  status: number
  /** False when the response was cut short (client gone, shutdown, error mid-body). */
  finished: boolean
  /** False when no byte of the answer reached the client (it left first); default true. */
  answered?: boolean
  bytesIn: number
  bytesOut: number
  durationMs: number
  ip: string
  principal?: Principal
}

/** Query parameters whose values never reach a log line. */
const SECRET_PARAMS = /([?&](?:token|access_token|ticket|api_key|apikey|key|auth|authorization)=)[^&#]*/gi

export function maskUrl (url: string): string {
  return url.includes('?') ? url.replace(SECRET_PARAMS, '$1REDACTED') : url
}

export function levelOf (r: Pick<RequestRecord, 'status' | 'finished' | 'answered'>): Exclude<LogLevel, 'silent' | 'debug'> {
  if (r.answered === false) return 'warn'
  if (r.status >= 500) return 'error'
  if (r.status >= 400 || !r.finished) return 'warn'
  return 'info'
}

/** Is a line at `level` written when the configured level is `min`? */
export function enabled (level: LogLevel, min: LogLevel): boolean {
  return min !== 'silent' && RANK[level] >= RANK[min]
}

/** The line for a request, or undefined when its level is filtered out. */
export function formatRequest (r: RequestRecord, format: LogFormat, min: LogLevel): string | undefined {
  const level = levelOf(r)
  if (!enabled(level, min)) return undefined
  const url = maskUrl(r.url)
  if (format === 'text') {
    const status = r.answered === false ? '-' : r.finished ? String(r.status) : `${r.status}!` // - = never answered, ! = cut short
    return `${r.time.toISOString()} ${r.ip === '' ? '-' : r.ip} ${r.method} ${url} ${status} ${r.bytesOut} ${r.durationMs.toFixed(1)}ms`
  }
  const q = url.indexOf('?')
  const line: Record<string, unknown> = {
    time: r.time.toISOString(),
    level,
    msg: 'request',
    method: r.method,
    path: q === -1 ? url : url.slice(0, q),
    url,
    route: r.route,
    status: r.answered === false ? null : r.status,
    ...(r.finished ? {} : { aborted: true }),
    ...(r.answered === false ? { answered: false } : {}),
    bytes_in: r.bytesIn,
    bytes_out: r.bytesOut,
    duration_ms: Math.round(r.durationMs * 1000) / 1000,
    ip: r.ip,
    principal: r.principal === undefined ? null : r.principal.kind === 'token' ? `token:${r.principal.id}` : 'anonymous',
    ...(r.principal?.kind === 'token' ? { token_name: r.principal.name } : {}),
    ...(r.principal?.kind === 'token' && r.principal.refused !== undefined ? { token_status: r.principal.refused } : {})
  }
  return JSON.stringify(line)
}
