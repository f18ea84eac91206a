/**
 * The UI's typed wrapper of the daemon's HTTP API (docs/api.md), same origin.
 * Every call goes through `call()`: it adds the token when there is one, turns
 * the API's error JSON into an ApiError with its `error_code`, and on 401
 * tells the app once (which shows the token screen; nothing is retried).
 * Uploads use XHR for their progress events, with the File objects as the
 * body parts, which the browser streams from disk. With a token, links and
 * media sources carry a short-lived download ticket instead (ticket()).
 */
import type { AuditEntry, ConnectResult, ContentInfo, IssuedTicket, TokenInfo } from '../../src/wire.js'

// the wire types are the daemon's own (src/wire.ts: types only, no imports), not copies
export type { AuditEntry, ConnectResult, ContentInfo, TokenInfo }
export type Ticket = IssuedTicket

export interface DirEntry { type: 'file' | 'dir', hash: string, size: number, name: string }

export interface UploadResult {
  hash: string
  cid: string
  size: number
  filename: string
  mime_type: string
  is_directory: boolean
  files?: number
  directories?: number
}

export interface Health { status: string, version: string, timestamp: string }

export interface Stats {
  storage: {
    content_count: number
    file_count: number
    directory_count: number
    chunk_count: number
    stored_bytes: number
    logical_bytes: number
    dedup_ratio: number
    disk_bytes?: number
    backend: string
    used_bytes: number
    max_bytes: number
    evicted_objects: number
  }
  replication: { replication_factor: number, pinned_content: number, pending_requests: number, in_progress?: number, replicated?: number, failed?: number, replicas_held?: number }
  network: { peer_id: string, connected_peers: number, addresses: string[] }
}

export interface NetworkInfo {
  peer_id: string
  connected_peers: number
  peer_list: string[]
  addresses: string[]
  dht: { enabled: boolean, mode?: string, peer_count: number, bucket_info: Array<{ prefix: string, depth: number, peers: number }> }
}

export interface HistorySample { time: string, bytes_in_per_s: number, bytes_out_per_s: number, requests_per_s: number }
export interface StatsHistory { interval_s: number, capacity: number, samples: HistorySample[] }

export interface ReplicaStatus { state: 'pending' | 'replicating' | 'replicated' | 'failed', copies: number, target: number, holders: string[], attempts: number, error?: string }

export interface PinState { priority: number, state: 'pinned' | 'queued' | 'fetching' | 'failed', error?: string, replication?: ReplicaStatus }

export class ApiError extends Error {
  constructor (readonly status: number, readonly code: string, message: string) {
    super(message)
    this.name = 'ApiError'
  }
}

const TOKEN_KEY = 'openhash.token'

/** The token: sessionStorage, or localStorage when "remember" was ticked. */
export const token = {
  get (): string | undefined {
    return sessionStorage.getItem(TOKEN_KEY) ?? localStorage.getItem(TOKEN_KEY) ?? undefined
  },
  set (value: string, remember: boolean): void {
    token.clear()
    ;(remember ? localStorage : sessionStorage).setItem(TOKEN_KEY, value)
  },
  clear (): void {
    sessionStorage.removeItem(TOKEN_KEY)
    localStorage.removeItem(TOKEN_KEY)
  }
}

let unauthorized: (message: string) => void = () => {}
/** Called (once per refused request) when the API answers 401. */
export function onUnauthorized (fn: (message: string) => void): void { unauthorized = fn }

function authHeaders (explicit?: string): Record<string, string> {
  const t = explicit ?? token.get()
  return t === undefined || t === '' ? {} : { Authorization: `Bearer ${t}` }
}

async function toError (res: Response): Promise<ApiError> {
  let code = `HTTP_${res.status}`
  let message = `${res.status} ${res.statusText}`
  try {
    const body = await res.json() as { error_code?: string, message?: string }
    if (typeof body.error_code === 'string') code = body.error_code
    if (typeof body.message === 'string') message = body.message
  } catch {}
  return new ApiError(res.status, code, message)
}

interface CallOptions {
  method?: 'GET' | 'POST' | 'DELETE'
  json?: unknown
  /** Use this token instead of the stored one (the token screen's check); a 401 then does not leave the page. */
  withToken?: string
  signal?: AbortSignal
}

/** One request; the JSON answer and its `Link: rel=next` target. */
export async function call<T> (path: string, options: CallOptions = {}): Promise<{ body: T, next?: string }> {
  const headers: Record<string, string> = { Accept: 'application/json', ...authHeaders(options.withToken) }
  if (options.json !== undefined) headers['Content-Type'] = 'application/json'
  const res = await fetch(path, {
    method: options.method ?? 'GET',
    headers,
    body: options.json === undefined ? undefined : JSON.stringify(options.json),
    signal: options.signal,
    credentials: 'omit'
  })
  if (!res.ok) {
    const err = await toError(res)
    if (res.status === 401 && options.withToken === undefined) unauthorized(err.message)
    throw err
  }
  return { body: await res.json() as T, next: nextLink(res.headers.get('link')) }
}

export async function get<T> (path: string, signal?: AbortSignal): Promise<T> {
  return (await call<T>(path, { signal })).body
}

function nextLink (header: string | null): string | undefined {
  if (header === null) return undefined
  const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(header)
  return m?.[1]
}

/**
 * A download ticket for one hash (POST /auth/ticket/{hash}; docs/security.md):
 * `/download/{hash}?ticket=…` and `/view/{hash}?ticket=…` then work as plain
 * link and media URLs, which cannot send a header, and stream from the daemon
 * instead of being buffered in a Blob.
 */
export async function ticket (hash: string, signal?: AbortSignal): Promise<IssuedTicket> {
  return (await call<IssuedTicket>(`/auth/ticket/${hash}`, { method: 'POST', signal })).body
}

export const withTicket = (path: string, t: IssuedTicket): string => `${path}?ticket=${encodeURIComponent(t.ticket)}`

export interface Progress { loaded: number, total: number }

export interface UploadHandle { done: Promise<UploadResult>, cancel: () => void }

/** POST a form with XHR (upload progress events); the File parts stream from disk. */
function postForm (path: string, form: FormData, onProgress: (p: Progress) => void): UploadHandle {
  const xhr = new XMLHttpRequest()
  const done = new Promise<UploadResult>((resolve, reject) => {
    xhr.open('POST', path)
    for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v)
    xhr.setRequestHeader('Accept', 'application/json')
    xhr.upload.onprogress = (e) => onProgress({ loaded: e.loaded, total: e.total })
    xhr.onload = () => {
      let body: any
      try { body = JSON.parse(xhr.responseText) } catch { body = {} }
      if (xhr.status >= 200 && xhr.status < 300) { resolve(body as UploadResult); return }
      const err = new ApiError(xhr.status, body.error_code ?? `HTTP_${xhr.status}`, body.message ?? `${xhr.status} ${xhr.statusText}`)
      if (xhr.status === 401) unauthorized(err.message)
      reject(err)
    }
    xhr.onerror = () => reject(new ApiError(0, 'NETWORK', 'the upload failed: the connection to the daemon was lost'))
    xhr.onabort = () => reject(new ApiError(0, 'CANCELLED', 'upload cancelled'))
    xhr.send(form)
  })
  return { done, cancel: () => xhr.abort() }
}

export function uploadFile (file: File, onProgress: (p: Progress) => void): UploadHandle {
  const form = new FormData()
  form.append('filename', file.name)
  if (file.lastModified > 0) form.append('mod_time', new Date(file.lastModified).toISOString())
  form.append('file', file, file.name)
  return postForm('/upload/file', form, onProgress)
}

/** A folder: its files with their paths relative to the folder, and its empty directories. */
export interface FolderUpload { name: string, files: Array<{ path: string, file: File }>, emptyDirs: string[] }

export function uploadFolder (folder: FolderUpload, onProgress: (p: Progress) => void): UploadHandle {
  const form = new FormData()
  form.append('name', folder.name)
  for (const d of folder.emptyDirs) form.append('directory', d)
  for (const { path, file } of folder.files) {
    if (file.lastModified > 0) form.append('mod_time', new Date(file.lastModified).toISOString())
    form.append('path', path)
    form.append('file', file, path)
  }
  return postForm('/upload/folder', form, onProgress)
}

export const hex = (s: string): boolean => /^[0-9a-f]{64}$/i.test(s)
