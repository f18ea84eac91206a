/** Network: this node's peer id and addresses, connected peers, the DHT's k-buckets drawn from GET /network's bucket_info, and a form to dial a multiaddr (POST /network/connect). */
import { useState } from 'preact/hooks'
import type { ConnectResult, NetworkInfo } from '../api.js'
import { call, get } from '../api.js'
import { Copy, Empty, ErrorBox, useLoad } from '../util.js'

const K = 20

function Buckets ({ buckets }: { buckets: NetworkInfo['dht']['bucket_info'] }) {
  if (buckets.length === 0) return <Empty>No routing table: the DHT is off.</Empty>
  const row = 22
  const w = 600
  return (
    <svg class='buckets' viewBox={`0 0 ${w} ${buckets.length * row + 4}`} role='img' aria-label={`${buckets.length} k-buckets`}>
      {buckets.map((b, i) => (
        <g key={b.prefix} transform={`translate(0 ${i * row + 2})`}>
          <text x='0' y='14' class='label'>{b.prefix === '' ? '(root)' : b.prefix}</text>
          <rect x='140' y='2' width={w - 180} height='16' class='slot' />
          <rect x='140' y='2' width={((w - 180) * Math.min(b.peers, K)) / K} height='16' class='fill' />
          <text x={w - 34} y='14' class='label'>{b.peers}/{K}</text>
        </g>
      ))}
    </svg>
  )
}

/** Dial a multiaddr; the page reloads its peers after a success. */
function ConnectForm ({ onConnected }: { onConnected: () => void }) {
  const [addr, setAddr] = useState('')
  const [busy, setBusy] = useState(false)
  const [result, setResult] = useState<ConnectResult | undefined>()
  const [error, setError] = useState<unknown>()

  async function submit (e: Event): Promise<void> {
    e.preventDefault()
    setError(undefined)
    setResult(undefined)
    const a = addr.trim()
    if (!a.startsWith('/')) { setError(new Error('A multiaddr starts with "/", e.g. /ip4/192.0.2.7/tcp/4001/p2p/12D3KooW…')); return }
    setBusy(true)
    try {
      const { body } = await call<ConnectResult>('/network/connect', { method: 'POST', json: { multiaddr: a } })
      setResult(body)
      setAddr('')
      onConnected()
    } catch (err) { setError(err) } finally { setBusy(false) }
  }

  return (
    <>
      <form class='row' onSubmit={(e) => { void submit(e) }} aria-busy={busy}>
        <label for='connect-addr'>Multiaddr</label>
        <input id='connect-addr' class='mono grow' placeholder='/ip4/…/tcp/…/p2p/12D3KooW… (another node’s address)' value={addr} onInput={(e) => setAddr(e.currentTarget.value)} />
        <button type='submit' class='primary' disabled={busy}>{busy ? 'Connecting…' : 'Connect'}</button>
      </form>
      {result !== undefined && <p class='ok' role='status' data-testid='connect-result'>Connected to <span class='mono wrap'>{result.peer_id}</span> ({result.direction}, over <span class='mono wrap'>{result.address}</span>).</p>}
      <ErrorBox error={error} />
      <p class='muted small'>Needs an admin token when auth is on. The connection is not remembered across restarts: for a lasting peer use <code>--bootstrap &lt;multiaddr&gt;</code> (or <code>network.bootstrap</code>).</p>
    </>
  )
}

export function Network () {
  const { data, error, reload } = useLoad(async (signal) => await get<NetworkInfo>('/network', signal), [])
  if (data === undefined) return <section><h1>Network</h1>{error === undefined ? <p aria-busy='true'>Loading…</p> : <ErrorBox error={error} />}</section>
  return (
    <section>
      <h1>Network</h1>
      <dl class='pairs wide'>
        <dt>Peer id</dt><dd class='mono wrap'>{data.peer_id === '' ? 'none (--no-network)' : <>{data.peer_id} <Copy text={data.peer_id} label='peer id' /></>}</dd>
        <dt>DHT</dt><dd>{data.dht.enabled ? `${data.dht.mode ?? ''} mode, ${data.dht.peer_count} peers in the routing table` : 'off'}</dd>
      </dl>
      <h2>Addresses</h2>
      {data.addresses.length === 0 ? <Empty>No listen addresses: the peer network is off.</Empty> : <ul class='plain'>{data.addresses.map(a => <li key={a} class='mono wrap'>{a} <Copy text={a} label='address' /></li>)}</ul>}
      <h2>Connected peers ({data.connected_peers})</h2>
      {data.peer_list.length === 0 ? <Empty>No peers connected. Connect to another node's address below, or start another daemon with <code>--bootstrap</code> and one of the addresses above.</Empty> : <ul class='plain' data-testid='peers'>{data.peer_list.map(p => <li key={p} class='mono wrap'>{p}</li>)}</ul>}
      <h2>K-buckets</h2>
      <Buckets buckets={data.dht.bucket_info} />
      <h2>Connect to a peer</h2>
      {data.peer_id === '' ? <Empty>The peer network is off (--no-network): there is nothing to connect.</Empty> : <ConnectForm onConnected={reload} />}
    </section>
  )
}
