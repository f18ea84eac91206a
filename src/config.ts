/**
 * Configuration, read and validated in one place. Precedence, lowest first:
 * shipped defaults (config/default.json), <data-dir>/config.json, environment
 * variables (OPENHASH_<SECTION>_<KEY>, e.g. OPENHASH_STORAGE_BACKEND), flags.
 * The data directory itself: --data-dir, else OPENHASH_DATA_DIR, else ~/.openhash.
 */
import { readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { z } from 'zod'
import { ConfigInvalidError } from './errors.js'
import { proxyEntryError } from './api/client-address.js'
import { allowedHostError } from './api/host-check.js'

const StorageSchema = z.strictObject({
  backend: z.enum(['pack', 'leveldb']),
  chunk_size: z.number().int().min(4096).max(4 * 1024 * 1024),
  pack_max_bytes: z.number().int().min(1024 * 1024).max(64 * 1024 * 1024 * 1024),
  compact_threshold: z.number().min(0).max(1),
  verify_on_read: z.boolean(),
  /** Quota on stored unique chunk bytes; 0 = unlimited. Past it, unpinned cached content is evicted (LRU) or the write fails. */
  max_bytes: z.number().int().min(0),
  /** After a write, past this fraction of max_bytes, eviction runs in the background… */
  gc_high_water: z.number().gt(0).max(1),
  /** …down to this fraction of max_bytes. */
  gc_low_water: z.number().min(0).max(1),
  /** Bytes kept in <data dir>/reserve so that LevelDB can open, recover and delete on a full disk; 0 = none. */
  disk_reserve_bytes: z.number().int().min(0).max(1024 * 1024 * 1024)
}).refine(s => s.gc_low_water <= s.gc_high_water, { message: 'gc_low_water must not exceed gc_high_water', path: ['gc_low_water'] })

const ApiSchema = z.strictObject({
  host: z.string().min(1),
  port: z.number().int().min(0).max(65535),
  /** Largest accepted upload (a file, or a whole folder upload), in bytes; larger ones get 413. */
  max_upload_bytes: z.number().int().min(1),
  /** On SIGINT/SIGTERM, how long in-flight requests may run before they are aborted. */
  shutdown_grace_ms: z.number().int().min(0),
  /** One log line per request on stdout. */
  request_log: z.boolean(),
  /** Require tokens: `auto` = only when the API listens beyond loopback. */
  auth: z.enum(['auto', 'on', 'off']),
  /** With auth: /view, /download and /info need no token (CDN-style serving); writes still do. */
  public_reads: z.boolean(),
  /** Let the API listen beyond loopback with auth off (refused otherwise). */
  allow_insecure: z.boolean(),
  /** Audit entries kept (the oldest are deleted past this). */
  audit_max_entries: z.number().int().min(100),
  /** Request lines as text (one line, human) or json (JSON lines). */
  log_format: z.enum(['text', 'json']),
  /** Least severe request line written: 5xx are error, 4xx warn, the rest info. */
  log_level: z.enum(['debug', 'info', 'warn', 'error', 'silent']),
  /** GET /metrics in the Prometheus text format. */
  metrics: z.boolean(),
  /** Rate limiting per token or client address (see docs/api.md#rate-limiting). */
  rate_limit_enabled: z.boolean(),
  /** Limit loopback clients (127.0.0.0/8, ::1) too; off: local tools are never limited. */
  rate_limit_loopback: z.boolean(),
  /** Requests per minute per key for each class; 0 = the class is not limited. */
  rate_limit_upload_per_min: z.number().int().min(0),
  rate_limit_download_per_min: z.number().int().min(0),
  rate_limit_metadata_per_min: z.number().int().min(0),
  /** A request body of which no byte arrives for this long is aborted (408; the upload rolls back); 0 = never. No limit on total time. */
  idle_timeout_ms: z.number().int().min(0),
  /** Unanswered (pipelined) requests one connection may hold; one more and the connection is closed. */
  max_pipelined_requests: z.number().int().min(1).max(10_000),
  /** Proxies (addresses, CIDR blocks) whose Forwarded / X-Forwarded-* headers are believed; see docs/security.md. */
  trusted_proxies: z.array(z.string().superRefine((v, ctx) => { const e = proxyEntryError(v); if (e !== undefined) ctx.addIssue({ code: 'custom', message: e }) })),
  /** Host names the API answers besides loopback ones (a proxy that keeps the public Host). */
  allowed_hosts: z.array(z.string().superRefine((v, ctx) => { const e = allowedHostError(v); if (e !== undefined) ctx.addIssue({ code: 'custom', message: e }) }))
})

const multiaddr = z.string().regex(/^\/(ip4|ip6|dns|dns4|dns6)\//, 'expected a multiaddr such as /ip4/127.0.0.1/tcp/4001')

const NetworkSchema = z.strictObject({
  /** Run the libp2p node in the daemon. */
  enabled: z.boolean(),
  /** Listen address and port (used when `listen` is empty); port 0 picks a free one. */
  host: z.string().min(1),
  port: z.number().int().min(0).max(65535),
  /** Explicit listen multiaddrs; override host/port. */
  listen: z.array(multiaddr),
  /** Addresses to announce instead of the listen addresses. */
  announce: z.array(multiaddr),
  /** Peers to connect to at start (multiaddrs with /p2p/<peer id>). No public peers by default. */
  bootstrap: z.array(multiaddr),
  /** LAN discovery by multicast DNS (traffic beyond this machine). */
  mdns: z.boolean(),
  /** How long a lookup of content that is not local may search for providers before answering 404. */
  search_timeout_ms: z.number().int().min(100).max(600_000),
  /** A peer that answers nothing for this long is dropped from a fetch. */
  request_timeout_ms: z.number().int().min(100).max(600_000),
  /** Providers fetched from in parallel. */
  max_providers: z.number().int().min(1).max(32),
  /** Chunk requests in flight per provider. */
  chunk_window: z.number().int().min(1).max(64),
  /** Re-announce everything held this often (pins first, by priority); 0 turns it off. */
  reprovide_interval_s: z.number().int().min(0),
  /** Pins of content that is not here yet fetched at the same time. */
  pin_fetch_concurrency: z.number().int().min(1).max(16),
  /** Largest object (file, or a directory's total) this node fetches; a peer announcing more is refused as a protocol error. */
  max_object_bytes: z.number().int().min(1),
  /** Pre-shared swarm key file (go-ipfs /key/swarm/psk/1.0.0/ format; relative to the data dir): only peers with the same key connect. Empty: an open network. */
  swarm_key_file: z.string()
})

/** A byte count, or "auto" (computed at start, see replication.max_bytes); numbers from the environment arrive as strings. */
const bytesOrAuto = z.preprocess(v => typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v, z.union([z.literal('auto'), z.number().int().min(0)]))

const ReplicationSchema = z.strictObject({
  /** Copies of every pin to keep in the network, this node's included; 1 turns replication off. */
  factor: z.number().int().min(1).max(20),
  /** Whether this node holds replicas for peers that ask. */
  accept: z.boolean(),
  /** Bytes this node will hold for others in total (replicas); 0 holds none; "auto": a quarter of storage.max_bytes, or without a quota a quarter of the data dir's free disk at start. */
  max_bytes: bytesOrAuto,
  /** Bytes held for any one peer; "auto": a quarter of the total replica budget. */
  max_bytes_per_peer: bytesOrAuto,
  /** Peer ids whose replication requests are accepted; empty: any peer. */
  accept_from: z.array(z.string().min(1)),
  /** A held replica whose fetch keeps failing is dropped after this many attempts (counted across restarts). */
  hold_max_attempts: z.number().int().min(1).max(100),
  /** Pins whose replication runs at the same time. */
  concurrency: z.number().int().min(1).max(16),
  /** How often every pin's copies are counted again (copies that vanished are replaced). */
  check_interval_s: z.number().int().min(1),
  /** Retries of an under-replicated pin wait retry_base_ms, doubling up to retry_max_ms… */
  retry_base_ms: z.number().int().min(10),
  retry_max_ms: z.number().int().min(10),
  /** …and after this many rounds without enough copies the pin's replication is `failed`. */
  max_attempts: z.number().int().min(1).max(1000),
  /** How long a peer may take to answer whether it holds a copy (unreachable peers count as gone). */
  probe_timeout_ms: z.number().int().min(100).max(600_000),
  /** How long a peer that accepted may take to fetch and store a replica. */
  store_timeout_ms: z.number().int().min(1000)
})

const ConfigSchema = z.strictObject({
  storage: StorageSchema,
  api: ApiSchema,
  network: NetworkSchema,
  replication: ReplicationSchema
})

export type FileConfig = z.infer<typeof ConfigSchema>
export interface Config extends FileConfig { data_dir: string }

/** Where the package's shipped files live (works from src/ under vitest and from dist/src/). */
export function packageRoot (): string {
  const here = fileURLToPath(new URL('.', import.meta.url))
  return here.includes('/dist/') ? resolve(here, '..', '..') : resolve(here, '..')
}

function readJson (path: string, optional: boolean): Record<string, any> | undefined {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err: any) {
    if (optional && err?.code === 'ENOENT') return undefined
    throw new ConfigInvalidError(`cannot read config file ${path}: ${err?.message ?? String(err)}`)
  }
  try {
    return JSON.parse(text)
  } catch (err: any) {
    throw new ConfigInvalidError(`config file ${path} is not valid JSON: ${err?.message ?? String(err)}`)
  }
}

function merge (base: Record<string, any>, over: Record<string, any> | undefined): Record<string, any> {
  if (over === undefined) return base
  const out: Record<string, any> = { ...base }
  for (const [k, v] of Object.entries(over)) {
    out[k] = v !== null && typeof v === 'object' && !Array.isArray(v) && typeof out[k] === 'object' && out[k] !== null
      ? merge(out[k], v)
      : v
  }
  return out
}

/** Parse an environment string as the type of the default it overrides. */
function coerce (raw: string, like: unknown, name: string): unknown {
  if (typeof like === 'number') {
    const n = Number(raw)
    if (raw.trim() === '' || Number.isNaN(n)) throw new ConfigInvalidError(`${name}: expected a number, got "${raw}"`)
    return n
  }
  if (Array.isArray(like)) return raw.split(',').map(v => v.trim()).filter(v => v !== '')
  if (typeof like === 'boolean') {
    if (/^(1|true|yes|on)$/i.test(raw)) return true
    if (/^(0|false|no|off)$/i.test(raw)) return false
    throw new ConfigInvalidError(`${name}: expected true or false, got "${raw}"`)
  }
  return raw
}

function fromEnv (defaults: Record<string, any>, env: NodeJS.ProcessEnv): Record<string, any> {
  const out: Record<string, any> = {}
  for (const [section, values] of Object.entries(defaults)) {
    if (values === null || typeof values !== 'object') continue
    for (const [key, like] of Object.entries(values)) {
      const name = `OPENHASH_${section}_${key}`.toUpperCase()
      const raw = env[name]
      if (raw === undefined) continue
      out[section] ??= {}
      out[section][key] = coerce(raw, like, name)
    }
  }
  return out
}

export function resolveDataDir (flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (flag !== undefined && flag !== '') return resolve(flag)
  if (env.OPENHASH_DATA_DIR !== undefined && env.OPENHASH_DATA_DIR !== '') return resolve(env.OPENHASH_DATA_DIR)
  return join(homedir(), '.openhash')
}

export interface LoadConfigOptions {
  dataDir?: string
  env?: NodeJS.ProcessEnv
  /** Overrides from flags, same shape as the file. */
  overrides?: Record<string, any>
}

export function loadConfig (options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env
  const dataDir = resolveDataDir(options.dataDir, env)
  const defaults = readJson(join(packageRoot(), 'config', 'default.json'), false)!
  const userPath = join(dataDir, 'config.json')
  let merged = merge(defaults, readJson(userPath, true))
  merged = merge(merged, fromEnv(defaults, env))
  merged = merge(merged, options.overrides)
  const parsed = ConfigSchema.safeParse(merged)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const where = issue.path.length > 0 ? issue.path.join('.') : '(top level)'
    throw new ConfigInvalidError(`invalid configuration: ${where}: ${issue.message} (defaults in config/default.json, overrides in ${userPath} and OPENHASH_* variables)`, { path: where })
  }
  return { ...parsed.data, data_dir: dataDir }
}

/**
 * What the process environment says beyond the config keys (OPENHASH_<SECTION>_<KEY>, read by loadConfig):
 * read here and nowhere else.
 */
export interface ProcessSettings {
  /** $OPENHASH_API: the daemon a CLI command talks to. */
  api?: string
  /** $OPENHASH_TOKEN: the token it sends. */
  token?: string
  /** $OPENHASH_DEBUG set: print errors with their stack, log internal errors on the daemon. */
  debug: boolean
  /** $OPENHASH_DEBUG=1: also print the peer network's diagnostics on stderr. */
  networkDebug: boolean
  /**
   * The `DEBUG`-style log namespaces to enable: $DEBUG when set (e.g. `openhash:*`), else every openhash error
   * namespace (`openhash:*:error`), so background errors are logged, never dropped unseen.
   */
  logNamespaces: string
}

export function processSettings (env: NodeJS.ProcessEnv = process.env): ProcessSettings {
  const nonEmpty = (v: string | undefined): string | undefined => v === undefined || v === '' ? undefined : v
  return {
    api: nonEmpty(env.OPENHASH_API),
    token: nonEmpty(env.OPENHASH_TOKEN),
    debug: env.OPENHASH_DEBUG !== undefined,
    networkDebug: env.OPENHASH_DEBUG === '1',
    logNamespaces: nonEmpty(env.DEBUG) ?? 'openhash:*:error'
  }
}
