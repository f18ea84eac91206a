/** Folders: a directory's entries (GET /entries), walked from the root hash along the path, with a breadcrumb; sites open through /view. */
import type { DirEntry } from '../api.js'
import { get, hex, token } from '../api.js'
import { bytes, Empty, ErrorBox, short, useLoad } from '../util.js'

const link = (root: string, path: string[]): string => `#/folders/${root}${path.map(p => `/${encodeURIComponent(p)}`).join('')}`

export function Folder ({ hash, path }: { hash: string, path: string[] }) {
  const { data, error } = useLoad(async (signal) => {
    if (!hex(hash)) throw new Error(`not a hash: ${hash}`)
    let dir = hash
    for (const name of path) {
      const { entries } = await get<{ entries: DirEntry[] }>(`/entries/${dir}`, signal)
      const e = entries.find(x => x.name === name && x.type === 'dir')
      if (e === undefined) throw new Error(`no folder "${name}" in ${short(dir)}`)
      dir = e.hash
    }
    const { entries } = await get<{ entries: DirEntry[] }>(`/entries/${dir}`, signal)
    const rootName = (await get<{ filename: string }>(`/info/${hash}`, signal)).filename
    return { dir, entries, rootName, name: path.length === 0 ? rootName : path[path.length - 1] }
  }, [hash, path.join('/')])
  const viewPath = `/view/${hash}/${path.map(encodeURIComponent).map(p => `${p}/`).join('')}`
  const site = data?.entries.some(e => e.name === 'index.html' && e.type === 'file') === true
  return (
    <section>
      <nav aria-label='Breadcrumb' class='crumbs'>
        <a href='#/files'>Files</a>
        <span aria-hidden='true'> / </span>
        <a href={link(hash, [])}>{data?.rootName ?? short(hash)}</a>
        {path.map((p, i) => <span key={i}><span aria-hidden='true'> / </span><a href={link(hash, path.slice(0, i + 1))} aria-current={i === path.length - 1 ? 'page' : undefined}>{p}</a></span>)}
      </nav>
      <h1 class='wrap'>{data?.name ?? 'Folder'}</h1>
      <ErrorBox error={error} />
      {data !== undefined && (
        <>
          <p class='row'>
            <span class='mono small' title={data.dir}>{short(data.dir)}</span>
            <a href={`#/files/${data.dir}`}>Details, pin, download</a>
            {site && token.get() === undefined && <a class='button' href={viewPath} target='_blank' rel='noreferrer'>Open the site (index.html)</a>}
            {site && token.get() !== undefined && <span class='muted small'>Has an index.html: a site opens through /view, which a browser tab cannot send a token to (needs api.public_reads).</span>}
          </p>
          {data.entries.length === 0
            ? <Empty>This folder is empty.</Empty>
            : (
              <div class='table-wrap'>
                <table>
                  <thead><tr><th>Name</th><th class='num'>Size</th><th>Hash</th></tr></thead>
                  <tbody>
                    {data.entries.map(e => (
                      <tr key={e.name}>
                        <td><a href={e.type === 'dir' ? link(hash, [...path, e.name]) : `#/files/${e.hash}`}>{e.name}{e.type === 'dir' ? '/' : ''}</a></td>
                        <td class='num'>{bytes(e.size)}</td>
                        <td class='mono' title={e.hash}>{short(e.hash)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              )}
        </>
      )}
    </section>
  )
}
