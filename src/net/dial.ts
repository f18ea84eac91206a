/**
 * Dialling a peer by multiaddr for POST /network/connect, with the answer
 * and the errors that endpoint gives (Network.dial).
 */
import type { Libp2p } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { multiaddr } from '@multiformats/multiaddr'
import { AbortedError, InvalidArgumentError, PeerUnreachableError } from '../errors.js'
import type { ConnectResult } from '../interface.js'

/** How long POST /network/connect waits for a dial. */
const DIAL_TIMEOUT_MS = 10_000

/** A libp2p dial error in one line (an AggregateError of the addresses tried gives its first reason). */
function describeDialError (err: unknown): string {
  const e = err as { message?: string, errors?: unknown[], name?: string }
  const inner = Array.isArray(e?.errors) && e.errors.length > 0 ? (e.errors[0] as { message?: string }).message : undefined
  return (inner ?? e?.message ?? String(err)).slice(0, 300)
}

/**
 * Dial `addr` for POST /network/connect: at most DIAL_TIMEOUT_MS (or until
 * `signal`). A string that is not a multiaddr, or this node's own address, is
 * INVALID_ARGUMENT; any failure to reach the peer (refused, timed out, the
 * peer is not the one its /p2p/ part names) is PEER_UNREACHABLE.
 */
export async function dialPeer (libp2p: Libp2p, addr: string, signal?: AbortSignal): Promise<ConnectResult> {
  let ma: Multiaddr
  try { ma = multiaddr(addr) } catch (err) { throw new InvalidArgumentError(`not a multiaddr: "${addr}" (${String((err as Error)?.message ?? err)})`, { multiaddr: addr }) }
  const self = ma.getComponents().find(c => c.name === 'p2p')?.value
  if (self === libp2p.peerId.toString()) throw new InvalidArgumentError('that is this node\'s own address', { multiaddr: addr })
  const timeout = AbortSignal.timeout(DIAL_TIMEOUT_MS)
  try {
    const conn = await libp2p.dial(ma, { signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]) })
    return {
      peer_id: conn.remotePeer.toString(),
      address: conn.remoteAddr.toString(),
      state: 'connected',
      direction: conn.direction,
      connected_peers: libp2p.getPeers().length
    }
  } catch (err) {
    if (signal?.aborted === true) throw new AbortedError('connect aborted', { multiaddr: addr }, { cause: err })
    const reason = timeout.aborted ? `no answer within ${DIAL_TIMEOUT_MS / 1000} s` : describeDialError(err)
    throw new PeerUnreachableError(`could not connect to ${addr}: ${reason}`, { multiaddr: addr }, { cause: err })
  }
}
