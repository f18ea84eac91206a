/** The token screen: shown when the API answers 401, or from the navigation. Checks the token with GET /tokens/self. */
import { useEffect, useState } from 'preact/hooks'
import type { TokenInfo } from '../api.js'
import { ApiError, call, token } from '../api.js'
import { ErrorBox, messageOf, when } from '../util.js'

export function Connect ({ reason, onConnected }: { reason?: string, onConnected: () => void }) {
  const [value, setValue] = useState('')
  const [remember, setRemember] = useState(false)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | undefined>()
  const [info, setInfo] = useState<TokenInfo | undefined>()

  // the stored token's own status and scopes (a refused one just shows the form)
  useEffect(() => {
    const stored = token.get()
    if (stored !== undefined && reason === undefined) call<TokenInfo>('/tokens/self', { withToken: stored }).then(r => setInfo(r.body), () => {})
  }, [])

  async function submit (e: Event): Promise<void> {
    e.preventDefault()
    const t = value.trim()
    if (t === '') { setError('Paste a token first.'); return }
    setBusy(true)
    setError(undefined)
    try {
      const { body } = await call<TokenInfo>('/tokens/self', { withToken: t })
      token.set(t, remember)
      setInfo(body)
      setValue('')
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401
        ? `This token was refused by the daemon: ${err.message}`
        : messageOf(err))
    } finally {
      setBusy(false)
    }
  }

  const current = token.get()
  return (
    <section class='narrow'>
      <h1>Token</h1>
      {reason !== undefined && <p class='warn' role='alert'>The daemon needs a token: {reason}</p>}
      <p>This node uses API tokens (<code>Authorization: Bearer …</code>). Its first start saved an admin token
        in <code>&lt;data-dir&gt;/admin.token</code>; an admin can create others on the Tokens page.
      </p>
      <form onSubmit={(e) => { void submit(e) }}>
        <label for='token'>Token</label>
        <input id='token' name='token' type='password' autoComplete='off' spellcheck={false} placeholder='ohk_…' value={value} onInput={(e) => setValue(e.currentTarget.value)} />
        <label class='check'><input type='checkbox' checked={remember} onChange={(e) => setRemember(e.currentTarget.checked)} /> Remember on this browser (localStorage; otherwise until the tab closes)</label>
        <div class='row'>
          <button type='submit' class='primary' disabled={busy}>{busy ? 'Checking…' : 'Use this token'}</button>
          {current !== undefined && <button type='button' onClick={() => { token.clear(); setInfo(undefined); location.reload() }}>Forget the stored token</button>}
        </div>
      </form>
      <ErrorBox error={error} />
      {info !== undefined && (
        <div class='card' role='status'>
          <p>Connected as <strong>{info.name ?? info.email ?? info.id}</strong> (token {info.id}, {info.status}).</p>
          <p>Scopes: {info.scopes.map(s => <span key={s} class='tag'>{s}</span>)}</p>
          {info.expires_at !== undefined && <p>Expires {when(info.expires_at)}</p>}
          <button type='button' class='primary' onClick={onConnected}>Continue</button>
        </div>
      )}
    </section>
  )
}
