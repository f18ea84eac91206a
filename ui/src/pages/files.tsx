/** Files: the paged list (GET /list, following Link rel=next), search by hash prefix or by name (both on the server: /list?after=…, /list?q=…), sort; the detail view. */
import { useEffect, useState } from 'preact/hooks'
import type { ContentInfo, Ticket } from '../api.js'
import { call, get, hex, ticket, token, withTicket } from '../api.js'
import { bytes, Copy, Empty, ErrorBox, messageOf, short, useLoad, when } from '../util.js'

const PAGE = 50
/** Pages of a name search fetched per click at most: each looks at a bounded share of the store, so a page can come back short. */
const SEARCH_PAGES = 10

/** The hash just below `prefix000…`, so that `after` lists the prefix's hashes first. */
function before (prefix: string): string | undefined {
  const full = (prefix + '0'.repeat(64 - prefix.length)).split('').map(c => parseInt(c, 16))
  let i = full.length - 1
  while (i >= 0 && full[i] === 0) { full[i] = 15; i-- }
  if (i < 0) return undefined
  full[i]--
  return full.map(d => d.toString(16)).join('')
}

type Sort = 'hash' | 'name' | 'size' | 'created'

export function Files () {
  const [items, setItems] = useState<ContentInfo[]>([])
  const [next, setNext] = useState<string | undefined>()
  const [error, setError] = useState<unknown>()
  const [loading, setLoading] = useState(false)
  const [query, setQuery] = useState('')
  const [prefix, setPrefix] = useState('')
  /** The name being searched (the submitted query), '' when none. */
  const [name, setName] = useState('')
  const [sort, setSort] = useState<Sort>('hash')

  async function load (url: string, append: boolean, pfx: string, byName: boolean): Promise<void> {
    setLoading(true)
    setError(undefined)
    try {
      let got: ContentInfo[] = []
      let more: string | undefined = url
      // a name search's pages may be short (the server bounds the work per page): go on until a page's worth
      for (let i = 0; more !== undefined && i < (byName ? SEARCH_PAGES : 1) && got.length < PAGE; i++) {
        const page: { body: ContentInfo[], next?: string } = await call<ContentInfo[]>(more)
        got = [...got, ...page.body]
        more = page.next
      }
      if (pfx !== '') {
        const inside = got.filter(i => i.hash.startsWith(pfx))
        if (inside.length < got.length) more = undefined
        got = inside
      }
      setItems(old => append ? [...old, ...got] : got)
      setNext(more)
    } catch (err) {
      setError(err)
    } finally {
      setLoading(false)
    }
  }

  function search (e?: Event): void {
    e?.preventDefault()
    const q = query.trim().toLowerCase()
    const pfx = /^[0-9a-f]{1,64}$/.test(q) ? q : ''
    setPrefix(pfx)
    const byName = pfx === '' && q !== ''
    setName(byName ? q : '')
    if (byName) { void load(`/list?q=${encodeURIComponent(q)}&limit=${PAGE}`, false, '', true); return }
    const after = pfx === '' ? undefined : before(pfx)
    void load(`/list?limit=${PAGE}${after === undefined ? '' : `&after=${after}`}`, false, pfx, false)
  }

  useEffect(() => { search() }, [])

  const sorted = [...items].sort((a, b) => sort === 'name' ? a.filename.localeCompare(b.filename) : sort === 'size' ? b.size - a.size : sort === 'created' ? b.created_at.localeCompare(a.created_at) : a.hash.localeCompare(b.hash))
  return (
    <section>
      <h1>Files</h1>
      <form class='row' role='search' onSubmit={search}>
        <label class='sr' for='q'>Search by name or hash prefix</label>
        <input id='q' type='search' placeholder='Name, or the start of a hash' value={query} onInput={(e) => setQuery(e.currentTarget.value)} />
        <button type='submit'>Search</button>
        <label for='sort'>Sort</label>
        <select id='sort' value={sort} onChange={(e) => setSort(e.currentTarget.value as Sort)}>
          <option value='hash'>hash</option><option value='name'>name</option><option value='size'>size</option><option value='created'>newest</option>
        </select>
      </form>
      <p class='muted small' data-testid='files-note'>{prefix !== '' ? `Hashes starting with ${prefix}.` : name !== '' ? `Names containing “${name}” (any case), searched over the whole store in hash order${next !== undefined ? '; load more to search further' : ''}.` : `${PAGE} at a time, in hash order.`}</p>
      <ErrorBox error={error} />
      {!loading && items.length === 0 && error === undefined && (
        <Empty>{prefix !== '' ? 'Nothing here has a hash starting like that.' : name !== '' ? (next !== undefined ? 'No match in the part of the store searched so far: load more to search further.' : 'No stored name contains that.') : <>Nothing stored yet. <a href='#/upload'>Upload a file or a folder</a>.</>}</Empty>
      )}
      {sorted.length > 0 && (
        <div class='table-wrap'>
          <table>
            <thead><tr><th>Name</th><th>Hash</th><th class='num'>Size</th><th class='hide-narrow'>Type</th><th class='hide-narrow'>Stored</th></tr></thead>
            <tbody>
              {sorted.map(i => (
                <tr key={i.hash}>
                  <td><a href={i.is_directory ? `#/folders/${i.hash}` : `#/files/${i.hash}`}>{i.filename}{i.is_directory ? '/' : ''}</a></td>
                  <td class='mono'><a href={`#/files/${i.hash}`} title={i.hash}>{short(i.hash)}</a></td>
                  <td class='num'>{bytes(i.size)}</td>
                  <td class='hide-narrow'>{i.mime_type}</td>
                  <td class='hide-narrow'>{when(i.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {loading && <p aria-busy='true'>Loading…</p>}
      {next !== undefined && !loading && <button type='button' onClick={() => { void load(next, true, prefix, name !== '') }}>Load more</button>}
    </section>
  )
}

/** Ask for a fresh ticket this long before the old one expires. */
const TICKET_MARGIN_MS = 20_000

/**
 * With a token: a download ticket for `hash` (renewed when a link is used close
 * to its expiry); undefined while it loads, and always without a token.
 */
function useTicket (hash: string, enabled: boolean): { t?: Ticket, error?: unknown, fresh: () => Promise<Ticket> } {
  const [t, setT] = useState<Ticket | undefined>()
  const [error, setError] = useState<unknown>()
  useEffect(() => {
    if (!enabled) return
    let gone = false
    setT(undefined)
    ticket(hash).then(x => { if (!gone) setT(x) }, err => { if (!gone) setError(err) })
    return () => { gone = true }
  }, [hash, enabled])
  const fresh = async (): Promise<Ticket> => {
    if (t !== undefined && Date.parse(t.expires_at) - Date.now() > TICKET_MARGIN_MS) return t
    const x = await ticket(hash)
    setT(x)
    return x
  }
  return { t, error, fresh }
}

function Preview ({ info, t, ticketError }: { info: ContentInfo, t?: Ticket, ticketError?: unknown }) {
  const kind = info.mime_type.split('/')[0]
  const needsToken = token.get() !== undefined
  const src = `/view/${info.hash}`
  // media stream from the daemon (Range requests), through a ticket when a token is needed
  const url = needsToken ? (t === undefined ? undefined : withTicket(src, t)) : src
  const [error, setError] = useState<unknown>()
  const [text, setText] = useState<string | undefined>()
  const isText = kind === 'text' || /json|xml|javascript/.test(info.mime_type)
  useEffect(() => {
    const ctl = new AbortController()
    if (isText && info.size === 0) {
      setText('(empty file)')
    } else if (isText) {
      const headers: Record<string, string> = { Range: 'bytes=0-65535' }
      const tk = token.get()
      if (tk !== undefined) headers.Authorization = `Bearer ${tk}`
      fetch(src, { headers, signal: ctl.signal, credentials: 'omit' })
        .then(async r => { if (!r.ok) throw new Error(`${r.status} ${r.statusText}`); setText(await r.text()) })
        .catch(err => { if (!ctl.signal.aborted) setError(err) })
    }
    return () => { ctl.abort() }
  }, [info.hash])
  const failed = error ?? (isText ? undefined : ticketError)
  if (failed !== undefined) return <p class='error'>No preview: {messageOf(failed)}</p>
  if (isText) return text === undefined ? <p aria-busy='true'>Loading the preview…</p> : <pre class='preview-text'>{text}{info.size > 65536 ? '\n…' : ''}</pre>
  if (!['image', 'video', 'audio'].includes(kind)) return <p class='muted'>No inline preview for {info.mime_type}. {!needsToken && <a href={src} target='_blank' rel='noreferrer'>Open it in a sandboxed tab</a>}</p>
  if (url === undefined) return <p aria-busy='true'>Loading the preview…</p>
  if (kind === 'image') return <img class='preview' src={url} alt={`Preview of ${info.filename}`} />
  if (kind === 'video') return <video class='preview' src={url} controls preload='metadata' />
  return <audio src={url} controls preload='metadata' />
}

/** The download link: a plain link, with a ticket when a token is needed (the browser streams it to disk). */
function DownloadLink ({ info, tickets }: { info: ContentInfo, tickets: ReturnType<typeof useTicket> }) {
  const path = `/download/${info.hash}`
  if (token.get() === undefined) return <a class='button' href={path} download={info.filename}>Download</a>
  if (tickets.t === undefined) return <button type='button' disabled>Download</button>
  return (
    <a
      class='button' href={withTicket(path, tickets.t)} download={info.filename} data-testid='download'
      onClick={(e) => {
        const link = e.currentTarget
        if (Date.parse(tickets.t!.expires_at) - Date.now() > TICKET_MARGIN_MS) return
        // about to expire: a fresh ticket first, then the same plain navigation
        e.preventDefault()
        void tickets.fresh().then(x => { link.href = withTicket(path, x); link.click() })
      }}
    >Download
    </a>
  )
}

export function FileDetail ({ hash }: { hash: string }) {
  const { data: info, error, reload } = useLoad(async (signal) => {
    if (!hex(hash)) throw new Error(`not a hash: ${hash}`)
    const [i, pins] = await Promise.all([get<ContentInfo>(`/info/${hash}`, signal), get<Record<string, number>>('/pins', signal)])
    return { ...i, pin: pins[i.hash] }
  }, [hash])
  const [priority, setPriority] = useState('1')
  const [status, setStatus] = useState<string | undefined>()
  const [actionError, setActionError] = useState<unknown>()
  useEffect(() => { if (info?.pin !== undefined) setPriority(String(info.pin)) }, [info?.pin])
  // one ticket serves the preview and the download (same hash); only files need one
  const tickets = useTicket(hash.toLowerCase(), token.get() !== undefined && info !== undefined && !info.is_directory)

  async function act (what: string, fn: () => Promise<unknown>): Promise<void> {
    setActionError(undefined)
    setStatus(undefined)
    try { await fn(); setStatus(what); reload() } catch (err) { setActionError(err) }
  }

  if (info === undefined) return <section><h1>File</h1>{error === undefined ? <p aria-busy='true'>Loading…</p> : <ErrorBox error={error} />}</section>
  return (
    <section>
      <p><a href='#/files'>← Files</a></p>
      <h1 class='wrap'>{info.filename}</h1>
      <dl class='pairs wide'>
        <dt>Hash</dt><dd class='mono wrap'>{info.hash} <Copy text={info.hash} label='hash' /></dd>
        <dt>CID</dt><dd class='mono wrap'>{info.cid} <Copy text={info.cid} label='CID' /></dd>
        <dt>Size</dt><dd>{bytes(info.size)} ({info.size} bytes)</dd>
        <dt>Type</dt><dd>{info.mime_type}</dd>
        <dt>Modified</dt><dd>{when(info.mod_time)}</dd>
        <dt>Stored</dt><dd>{when(info.created_at)}</dd>
        <dt>Chunks</dt><dd>{info.chunk_count}</dd>
        <dt>References</dt><dd>{info.ref_count}</dd>
        <dt>Directory</dt><dd>{info.is_directory ? 'yes' : 'no'}</dd>
        <dt>Pin</dt><dd data-testid='pin-state'>{info.pin === undefined ? 'not pinned' : `pinned, priority ${info.pin}`}</dd>
      </dl>
      <div class='row'>
        {info.is_directory
          ? <a class='button' href={`#/folders/${info.hash}`}>Browse the folder</a>
          : <DownloadLink info={info} tickets={tickets} />}
        <label for='prio'>Priority</label>
        <input id='prio' type='number' min={1} max={100} value={priority} onInput={(e) => setPriority(e.currentTarget.value)} class='narrow-input' />
        <button type='button' class='primary' onClick={() => { void act('Pinned.', async () => await call(`/pin/${info.hash}?priority=${encodeURIComponent(priority)}`, { method: 'POST' })) }}>{info.pin === undefined ? 'Pin' : 'Update pin'}</button>
        {info.pin !== undefined && <button type='button' onClick={() => { void act('Unpinned.', async () => await call(`/unpin/${info.hash}`, { method: 'DELETE' })) }}>Unpin</button>}
        <button
          type='button' class='danger' onClick={() => {
            if (confirm(`Release the local add of ${info.filename}? The next gc removes it unless a pin or a folder holds it.`)) void act('Released: the next gc removes it unless something else holds it.', async () => await call(`/content/${info.hash}`, { method: 'DELETE' }))
          }}
        >Remove (rm)
        </button>
      </div>
      {status !== undefined && <p class='ok' role='status'>{status}</p>}
      <ErrorBox error={actionError} />
      {!info.is_directory && <><h2>Preview</h2><Preview info={info} t={tickets.t} ticketError={tickets.error} /></>}
    </section>
  )
}
