/** Dashboard: health, version, peer id and addresses, storage against the quota, replication, traffic charts (GET /stats/history). */
import { useEffect } from 'preact/hooks'
import type { Health, NetworkInfo, Stats, StatsHistory } from '../api.js'
import { get } from '../api.js'
import { Chart } from '../chart.js'
import { bytes, Copy, ErrorBox, useLoad } from '../util.js'

const REFRESH_MS = 10_000

export function Dashboard () {
  const { data, error, reload } = useLoad(async (signal) => {
    const [health, stats, network, history] = await Promise.all([
      get<Health>('/health', signal), get<Stats>('/stats', signal), get<NetworkInfo>('/network', signal), get<StatsHistory>('/stats/history', signal)
    ])
    return { health, stats, network, history }
  }, [])
  useEffect(() => {
    const t = setInterval(reload, REFRESH_MS)
    return () => clearInterval(t)
  }, [])
  if (data === undefined) return <section><h1>Dashboard</h1>{error === undefined ? <p aria-busy='true'>Loading…</p> : <ErrorBox error={error} />}</section>
  const { health, stats, network, history } = data
  const s = stats.storage
  const r = stats.replication
  const quota = s.max_bytes > 0 ? Math.min(1, s.used_bytes / s.max_bytes) : undefined
  const samples = history.samples
  return (
    <section>
      <h1>Dashboard</h1>
      <ErrorBox error={error} />
      <div class='grid'>
        <div class='card'>
          <h2>Node</h2>
          <p><span class={`dot ${health.status}`} aria-hidden='true' /> {health.status} · version {health.version}</p>
          <p class='mono wrap'>{network.peer_id === '' ? 'peer network off (--no-network)' : network.peer_id} {network.peer_id !== '' && <Copy text={network.peer_id} label='peer id' />}</p>
          <p>{network.connected_peers} connected peer{network.connected_peers === 1 ? '' : 's'}</p>
        </div>
        <div class='card'>
          <h2>Storage</h2>
          <div class='gauge' role='meter' aria-label='Storage used' aria-valuemin={0} aria-valuemax={100} aria-valuenow={quota === undefined ? 0 : Math.round(quota * 100)}>
            <div class='fill' style={{ width: `${Math.round((quota ?? 0) * 100)}%` }} />
          </div>
          <p>{bytes(s.used_bytes)} used {quota === undefined ? '(no quota)' : `of ${bytes(s.max_bytes)} (${Math.round(quota * 100)} %)`}</p>
          <dl class='pairs'>
            <dt>Objects</dt><dd>{s.content_count} ({s.file_count} files, {s.directory_count} folders)</dd>
            <dt>Chunks</dt><dd>{s.chunk_count}</dd>
            <dt>Dedup ratio</dt><dd>{s.dedup_ratio} ({bytes(s.logical_bytes)} stored as {bytes(s.stored_bytes)})</dd>
            <dt>Backend</dt><dd>{s.backend}{s.disk_bytes !== undefined ? `, ${bytes(s.disk_bytes)} on disk` : ''}</dd>
          </dl>
        </div>
        <div class='card'>
          <h2>Replication</h2>
          <dl class='pairs'>
            <dt>Factor</dt><dd>{r.replication_factor}</dd>
            <dt>Pinned here</dt><dd>{r.pinned_content}</dd>
            <dt>Waiting / fetching</dt><dd>{r.pending_requests}</dd>
            {r.replicated !== undefined && <><dt>Replicated</dt><dd>{r.replicated}</dd></>}
            {r.failed !== undefined && <><dt>Failed</dt><dd>{r.failed}</dd></>}
            {r.replicas_held !== undefined && <><dt>Held for peers</dt><dd>{r.replicas_held}</dd></>}
          </dl>
        </div>
      </div>
      <h2>Addresses</h2>
      {network.addresses.length === 0
        ? <p class='muted'>No listen addresses: the peer network is off.</p>
        : <ul class='plain'>{network.addresses.map(a => <li key={a} class='mono wrap'>{a} <Copy text={a} label='address' /></li>)}</ul>}
      <h2>Traffic</h2>
      {samples.length < 2 && <p class='muted'>Collecting: a sample every {history.interval_s} s; the charts fill over the next minutes.</p>}
      <div class='grid two'>
        <Chart title='HTTP bandwidth' unit='bytes' series={[{ label: 'in', values: samples.map(x => x.bytes_in_per_s), class: 's1' }, { label: 'out', values: samples.map(x => x.bytes_out_per_s), class: 's2' }]} />
        <Chart title='Requests' unit='count' series={[{ label: 'requests', values: samples.map(x => x.requests_per_s), class: 's1' }]} />
      </div>
    </section>
  )
}
