/**
 * Pins: every pin with its priority (editable), state, replication copies and
 * holders (all from one GET /pins/status), unpin, retry of failed ones, pin a
 * hash not here yet. While some pin is still moving (fetching, or replication
 * not settled) the list is reloaded every 5 s.
 */
import { useEffect, useState } from 'preact/hooks'
import type { PinState, ReplicaStatus } from '../api.js'
import { call, get, hex } from '../api.js'
import { Copy, Empty, ErrorBox, short, useLoad } from '../util.js'

const POLL_MS = 5000

/** Copies known (this node's included) against the factor, with the replication's own state. */
function Copies ({ r }: { r?: ReplicaStatus }) {
  if (r === undefined) return <span class='muted'>–</span>
  return (
    <>
      <span data-testid='copies'>{r.copies} / {r.target}</span> <span class={`tag ${r.state}`}>{r.state}</span>
      {r.error !== undefined && <div class={`${r.state === 'failed' ? 'error' : 'warn'} small`}>{r.error}</div>}
    </>
  )
}

/** The peers holding a copy on this node's request. */
function Holders ({ r }: { r?: ReplicaStatus }) {
  if (r === undefined) return <span class='muted'>–</span>
  if (r.holders.length === 0) return <span class='muted'>none yet</span>
  return <ul class='plain holders' data-testid='holders'>{r.holders.map(p => <li key={p} class='mono' title={p}>{short(p)} <Copy text={p} label='peer id' /></li>)}</ul>
}

const moving = (p: PinState): boolean => p.state === 'queued' || p.state === 'fetching' || p.replication?.state === 'pending' || p.replication?.state === 'replicating'

function PinRow ({ hash, pin, onChange, onError }: { hash: string, pin: PinState, onChange: () => void, onError: (e: unknown) => void }) {
  const [priority, setPriority] = useState(String(pin.priority))
  const save = async (): Promise<void> => { try { await call(`/pin/${hash}?priority=${encodeURIComponent(priority)}`, { method: 'POST' }); onChange() } catch (err) { onError(err) } }
  return (
    <tr data-hash={hash}>
      <td class='mono'><a href={`#/files/${hash}`} title={hash}>{short(hash)}</a></td>
      <td>
        <label class='sr' for={`p-${hash}`}>Priority of {short(hash)}</label>
        <input id={`p-${hash}`} class='narrow-input' type='number' min={1} max={100} value={priority} onInput={(e) => setPriority(e.currentTarget.value)} />
        {priority !== String(pin.priority) && <button type='button' class='small' onClick={() => { void save() }}>Save</button>}
      </td>
      <td><span class={`tag ${pin.state}`}>{pin.state}</span>{pin.error !== undefined && <div class='error small'>{pin.error}</div>}</td>
      <td><Copies r={pin.replication} />{pin.replication !== undefined && <div class='small'><span class='muted'>Holders: </span><Holders r={pin.replication} /></div>}</td>
      <td class='row'>
        {pin.state === 'failed' && <button type='button' class='small' onClick={() => { void save() }}>Retry</button>}
        <button type='button' class='small' onClick={() => { void call(`/unpin/${hash}`, { method: 'DELETE' }).then(onChange, onError) }}>Unpin</button>
      </td>
    </tr>
  )
}

export function Pins () {
  const { data, error, reload } = useLoad(async (signal) => await get<Record<string, PinState>>('/pins/status', signal), [])
  const [hash, setHash] = useState('')
  const [priority, setPriority] = useState('1')
  const [actionError, setActionError] = useState<unknown>()
  const [status, setStatus] = useState<string | undefined>()
  const busy = Object.values(data ?? {}).some(moving)
  useEffect(() => {
    if (!busy) return
    const t = setInterval(reload, POLL_MS)
    return () => clearInterval(t)
  }, [busy])

  async function pin (e: Event): Promise<void> {
    e.preventDefault()
    setActionError(undefined)
    setStatus(undefined)
    const h = hash.trim().toLowerCase()
    if (!hex(h)) { setActionError(new Error('A hash is 64 hexadecimal characters.')); return }
    try {
      const { body } = await call<{ state: string, message: string }>(`/pin/${h}?priority=${encodeURIComponent(priority)}`, { method: 'POST' })
      setStatus(`${body.message} (${body.state}).`)
      setHash('')
      reload()
    } catch (err) { setActionError(err) }
  }

  const entries = Object.entries(data ?? {}).sort((a, b) => b[1].priority - a[1].priority || a[0].localeCompare(b[0]))
  return (
    <section>
      <h1>Pins</h1>
      <form class='row' onSubmit={(e) => { void pin(e) }}>
        <label for='pin-hash'>Pin a hash</label>
        <input id='pin-hash' class='mono grow' placeholder='64 hex characters; fetched from peers if not here' value={hash} onInput={(e) => setHash(e.currentTarget.value)} />
        <label for='pin-prio'>Priority</label>
        <input id='pin-prio' class='narrow-input' type='number' min={1} max={100} value={priority} onInput={(e) => setPriority(e.currentTarget.value)} />
        <button type='submit' class='primary'>Pin</button>
      </form>
      {status !== undefined && <p class='ok' role='status'>{status}</p>}
      <ErrorBox error={actionError ?? error} />
      {data !== undefined && entries.length === 0 && <Empty>No pins. Pin a file from its page, or a hash above; pinned content survives gc.</Empty>}
      {entries.length > 0 && (
        <div class='table-wrap'>
          <table>
            <thead><tr><th>Hash</th><th>Priority (1–100)</th><th>State</th><th>Copies and holders</th><th>Actions</th></tr></thead>
            <tbody>{entries.map(([h, p]) => <PinRow key={`${h}:${p.priority}`} hash={h} pin={p} onChange={reload} onError={setActionError} />)}</tbody>
          </table>
        </div>
      )}
      <p class='muted small'>Copies: the copies known in the network, this node's included, against <code>replication.factor</code>. Holders: the peers keeping a copy on this node's request.</p>
    </section>
  )
}
