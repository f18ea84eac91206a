/**
 * The replication protocol, /openhash/replicate/1.0.0 (spec:
 * docs/protocols/replicate.md). One request per stream, JSON payloads in the
 * exchange protocol's framing (wire.ts):
 *
 *   REPLICATE {hash, size, priority} → ACCEPTED, then STORED or FAILED {reason}
 *                                    | REFUSED {reason}
 *   PROBE {hash}                     → HAVE {have, held_for_you}
 *   WITHDRAW {hash}                  → WITHDRAWN {dropped}
 *
 * The server side applies a `ReplicaPolicy` (replica-holder.ts); this file
 * knows only the messages.
 */
import type { Stream } from '@libp2p/interface'
import { ProtocolError } from '../errors.js'
import { isHash } from '../format/hash.js'
import { FrameReader, json, parseJson, sendFrame } from './wire.js'

export const REPLICATE_PROTOCOL = '/openhash/replicate/1.0.0'

export const REQ_REPLICATE = 0x01
export const REQ_PROBE = 0x02
export const REQ_WITHDRAW = 0x03
export const RES_ACCEPTED = 0x81
export const RES_REFUSED = 0x82
export const RES_STORED = 0x83
export const RES_FAILED = 0x84
export const RES_HAVE = 0x85
export const RES_WITHDRAWN = 0x86
export const RES_ERROR = 0xff

/** Every message of this protocol is small JSON. */
export const MAX_MESSAGE = 4096

export interface ReplicateRequest { hash: string, size: number, priority: number }

/** What a holder decides and does; `owner` is the requesting peer's id. */
export interface ReplicaPolicy {
  /** Accept (then `store` runs) or refuse with a reason. */
  consider(owner: string, req: ReplicateRequest): Promise<{ accept: true } | { accept: false, reason: string }>
  /** Fetch (verified) and keep the content for `owner`; throws with the reason on failure. */
  store(owner: string, req: ReplicateRequest, signal: AbortSignal): Promise<void>
  have(owner: string, hash: string): Promise<{ have: boolean, held_for_you: boolean }>
  withdraw(owner: string, hash: string): Promise<boolean>
  /** An accepted request whose ACCEPTED answer could not be sent (the requester went away): `store` will not run. */
  cancel?(owner: string, req: ReplicateRequest): void
}

function readHash (v: unknown, what: string): string {
  if (typeof v !== 'string' || !isHash(v)) throw new ProtocolError(`${what}: bad hash`)
  return v
}

/** Serve one inbound replication stream (one request). */
export async function serveReplicate (stream: Stream, owner: string, policy: ReplicaPolicy): Promise<void> {
  const reader = new FrameReader(stream, MAX_MESSAGE)
  // a stored replica can take long; the stream closing (requester gone) aborts the fetch
  const ctrl = new AbortController()
  stream.addEventListener('close', () => { ctrl.abort() }, { once: true })
  try {
    const f = await reader.next()
    if (f === undefined) return
    switch (f.kind) {
      case REQ_REPLICATE: {
        const m = parseJson<{ hash?: unknown, size?: unknown, priority?: unknown }>(f.payload, 'REPLICATE')
        const hash = readHash(m.hash, 'REPLICATE')
        if (typeof m.size !== 'number' || !Number.isSafeInteger(m.size) || m.size < 0) throw new ProtocolError('REPLICATE: bad size')
        if (typeof m.priority !== 'number' || !Number.isInteger(m.priority)) throw new ProtocolError('REPLICATE: bad priority')
        const req: ReplicateRequest = { hash, size: m.size, priority: m.priority }
        const verdict = await policy.consider(owner, req)
        if (!verdict.accept) { await sendFrame(stream, RES_REFUSED, json({ reason: verdict.reason })); break }
        try {
          await sendFrame(stream, RES_ACCEPTED, json({}))
        } catch (err) {
          policy.cancel?.(owner, req) // what consider() reserved is given back
          throw err
        }
        try {
          await policy.store(owner, req, ctrl.signal)
          await sendFrame(stream, RES_STORED, json({}))
        } catch (err) {
          await sendFrame(stream, RES_FAILED, json({ reason: String((err as Error)?.message ?? err) }))
        }
        break
      }
      case REQ_PROBE: {
        const hash = readHash(parseJson<{ hash?: unknown }>(f.payload, 'PROBE').hash, 'PROBE')
        await sendFrame(stream, RES_HAVE, json(await policy.have(owner, hash)))
        break
      }
      case REQ_WITHDRAW: {
        const hash = readHash(parseJson<{ hash?: unknown }>(f.payload, 'WITHDRAW').hash, 'WITHDRAW')
        await sendFrame(stream, RES_WITHDRAWN, json({ dropped: await policy.withdraw(owner, hash) }))
        break
      }
      default:
        throw new ProtocolError(`unknown request kind ${f.kind}`)
    }
    await stream.close()
  } catch (err) {
    if (err instanceof ProtocolError) await sendFrame(stream, RES_ERROR, json({ error: err.message })).catch(() => {})
    stream.abort(err instanceof Error ? err : new Error(String(err)))
  }
}

/** The requester's side: one request on a fresh stream, its answers read with a deadline. */
export class ReplicateCall {
  private readonly reader: FrameReader

  constructor (private readonly stream: Stream) {
    this.reader = new FrameReader(stream, MAX_MESSAGE)
  }

  async send (kind: number, body: unknown): Promise<void> {
    await sendFrame(this.stream, kind, json(body))
  }

  /** The next answer, within `timeoutMs`. */
  async answer (timeoutMs: number): Promise<{ kind: number, body: Record<string, unknown> }> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => { reject(new ProtocolError(`no answer within ${timeoutMs} ms`)) }, timeoutMs)
    })
    try {
      const f = await Promise.race([this.reader.next(), timeout])
      if (f === undefined) throw new ProtocolError('peer closed the replication stream')
      const body = parseJson<Record<string, unknown>>(f.payload, 'answer')
      if (f.kind === RES_ERROR) throw new ProtocolError(`peer answered: ${String(body.error)}`)
      return { kind: f.kind, body: body ?? {} }
    } finally {
      clearTimeout(timer)
    }
  }

  async close (): Promise<void> {
    await this.stream.close().catch(() => { this.stream.abort(new Error('close failed')) })
  }

  abort (): void { this.stream.abort(new Error('replication call abandoned')) }
}
