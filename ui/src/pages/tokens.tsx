/** Tokens (admin): create (name or email, scopes, expiry; the secret shown once), list with status and last use, revoke, reactivate, renew. */
import { useState } from 'preact/hooks'
import type { TokenInfo } from '../api.js'
import { call, get } from '../api.js'
import { Copy, Empty, ErrorBox, useLoad, when } from '../util.js'

const EXPIRY: Array<[string, number | undefined]> = [['never', undefined], ['1 day', 86400], ['30 days', 2592000], ['1 year', 31536000]]

export function Tokens () {
  const { data, error, reload } = useLoad(async (signal) => (await get<{ tokens: TokenInfo[] }>('/tokens', signal)).tokens, [])
  const [name, setName] = useState('')
  const [email, setEmail] = useState('')
  const [scopes, setScopes] = useState<Record<string, boolean>>({ read: true, write: false, admin: false })
  const [expiry, setExpiry] = useState(0)
  const [secret, setSecret] = useState<{ id: string, token: string, what: string } | undefined>()
  const [actionError, setActionError] = useState<unknown>()

  async function create (e: Event): Promise<void> {
    e.preventDefault()
    setActionError(undefined)
    if (name.trim() === '' && email.trim() === '') { setActionError(new Error('Give the token a name or an owner email.')); return }
    try {
      const { body } = await call<TokenInfo & { token: string }>('/tokens', {
        method: 'POST',
        json: { name: name.trim() || undefined, email: email.trim() || undefined, scopes: Object.keys(scopes).filter(s => scopes[s]), expires_in_s: EXPIRY[expiry][1] }
      })
      setSecret({ id: body.id, token: body.token, what: 'created' })
      setName('')
      setEmail('')
      reload()
    } catch (err) { setActionError(err) }
  }

  async function act (t: TokenInfo, what: 'revoke' | 'reactivate' | 'renew'): Promise<void> {
    setActionError(undefined)
    try {
      const { body } = await call<{ token?: string }>(`/tokens/${t.id}/${what}`, { method: 'POST', json: what === 'renew' ? {} : undefined })
      if (body.token !== undefined) setSecret({ id: t.id, token: body.token, what: 'renewed (the old secret no longer works)' })
      reload()
    } catch (err) { setActionError(err) }
  }

  return (
    <section>
      <h1>Tokens</h1>
      <form class='card' onSubmit={(e) => { void create(e) }}>
        <h2>New token</h2>
        <div class='fields'>
          <div><label for='t-name'>Name</label><input id='t-name' value={name} onInput={(e) => setName(e.currentTarget.value)} placeholder='photo-app' /></div>
          <div><label for='t-email'>Owner email</label><input id='t-email' type='email' value={email} onInput={(e) => setEmail(e.currentTarget.value)} placeholder='dev@example.com' /></div>
          <fieldset><legend>Scopes</legend>
            {['read', 'write', 'admin'].map(s => <label key={s} class='check'><input type='checkbox' name={`scope-${s}`} checked={scopes[s]} onChange={(e) => setScopes({ ...scopes, [s]: e.currentTarget.checked })} /> {s}</label>)}
          </fieldset>
          <div><label for='t-exp'>Expires</label>
            <select id='t-exp' value={String(expiry)} onChange={(e) => setExpiry(Number(e.currentTarget.value))}>{EXPIRY.map(([l], i) => <option key={l} value={String(i)}>{l}</option>)}</select>
          </div>
        </div>
        <button type='submit' class='primary'>Create token</button>
      </form>
      {secret !== undefined && (
        <div class='card secret' role='status'>
          <p>Token {secret.id} {secret.what}. Copy the secret now: it is shown this once.</p>
          <p class='mono wrap' data-testid='secret'>{secret.token} <Copy text={secret.token} label='token secret' /></p>
          <button type='button' class='small' onClick={() => setSecret(undefined)}>Done</button>
        </div>
      )}
      <ErrorBox error={actionError ?? error} />
      {data !== undefined && data.length === 0 && <Empty>No tokens yet: create one above.</Empty>}
      {data !== undefined && data.length > 0 && (
        <div class='table-wrap'>
          <table>
            <thead><tr><th>Name</th><th>Id</th><th>Scopes</th><th>Status</th><th class='hide-narrow'>Last used</th><th class='hide-narrow'>Expires</th><th>Actions</th></tr></thead>
            <tbody>
              {data.map(t => (
                <tr key={t.id} data-token={t.id}>
                  <td>{t.name ?? ''}{t.email !== undefined && <div class='muted small'>{t.email}</div>}</td>
                  <td class='mono'>{t.id}</td>
                  <td>{t.scopes.join(', ')}</td>
                  <td><span class={`tag ${t.status}`}>{t.status}</span></td>
                  <td class='hide-narrow'>{t.last_used_at === undefined ? 'never' : when(t.last_used_at)} ({t.usage_count})</td>
                  <td class='hide-narrow'>{t.expires_at === undefined ? 'never' : when(t.expires_at)}</td>
                  <td class='row'>
                    {t.status === 'active'
                      ? <button type='button' class='small danger' onClick={() => { void act(t, 'revoke') }}>Revoke</button>
                      : <button type='button' class='small' onClick={() => { void act(t, 'reactivate') }}>Reactivate</button>}
                    <button type='button' class='small' onClick={() => { void act(t, 'renew') }}>Renew</button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  )
}
