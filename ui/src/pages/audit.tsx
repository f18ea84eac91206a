/** Audit (admin): GET /audit, newest first, filtered by action prefix and token id, paged by its Link rel=next. */
import { useEffect, useState } from 'preact/hooks'
import type { AuditEntry } from '../api.js'
import { call } from '../api.js'
import { Empty, ErrorBox, short, when } from '../util.js'

const PAGE = 50

export function Audit () {
  const [action, setAction] = useState('')
  const [tokenId, setTokenId] = useState('')
  const [entries, setEntries] = useState<AuditEntry[] | undefined>()
  const [next, setNext] = useState<string | undefined>()
  const [error, setError] = useState<unknown>()

  async function load (url: string, append: boolean): Promise<void> {
    setError(undefined)
    try {
      const { body, next } = await call<{ entries: AuditEntry[] }>(url)
      setEntries(old => append ? [...(old ?? []), ...body.entries] : body.entries)
      setNext(next)
    } catch (err) { setError(err) }
  }

  function search (e?: Event): void {
    e?.preventDefault()
    const q = new URLSearchParams({ limit: String(PAGE) })
    if (action.trim() !== '') q.set('action', action.trim())
    if (tokenId.trim() !== '') q.set('token_id', tokenId.trim())
    void load(`/audit?${q.toString()}`, false)
  }
  useEffect(() => { search() }, [])

  return (
    <section>
      <h1>Audit</h1>
      <form class='row' onSubmit={search}>
        <label for='a-action'>Action</label>
        <input id='a-action' placeholder='upload, token., pin…' value={action} onInput={(e) => setAction(e.currentTarget.value)} />
        <label for='a-token'>Token id</label>
        <input id='a-token' class='mono' placeholder='16 hex' value={tokenId} onInput={(e) => setTokenId(e.currentTarget.value)} />
        <button type='submit'>Filter</button>
      </form>
      <ErrorBox error={error} />
      {entries !== undefined && entries.length === 0 && <Empty>No audit entries{action !== '' || tokenId !== '' ? ' match these filters' : ': every change (upload, pin, token…) is recorded here'}.</Empty>}
      {entries !== undefined && entries.length > 0 && (
        <div class='table-wrap'>
          <table>
            <thead><tr><th>Time</th><th>Action</th><th>Who</th><th>Outcome</th><th class='hide-narrow'>Target</th></tr></thead>
            <tbody>
              {entries.map(e => (
                <tr key={e.id}>
                  <td>{when(e.time)}</td>
                  <td><code>{e.action}</code><div class='muted small'>{e.method} {e.path.length > 40 ? `${e.path.slice(0, 40)}…` : e.path}</div></td>
                  <td>{e.actor.token_name ?? e.actor.token_id ?? 'no token'}<div class='muted small'>{e.actor.ip}</div></td>
                  <td><span class={`tag ${e.outcome === 'ok' ? 'active' : 'failed'}`}>{e.outcome}</span> {e.status}</td>
                  <td class='mono hide-narrow' title={e.target}>{e.target === undefined ? '' : short(e.target)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {next !== undefined && <button type='button' onClick={() => { void load(next, true) }}>Older entries</button>}
    </section>
  )
}
