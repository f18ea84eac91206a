/**
 * The HTML page `/view/{hash}/{dir}/` shows for a directory without an
 * index.html: names escaped, links relative to the page (whose URL always
 * ends in "/"), so the listing works under any prefix or proxy path.
 */
import type { DirEntry } from '../format/directory.js'

export function escapeHtml (s: string): string {
  return s.replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)
}

function humanSize (n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  let v = n
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++ }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`
}

/** `title` is the shown path, e.g. "photos/2024/". */
export function renderListing (title: string, rootHash: string, entries: DirEntry[], isRoot: boolean): string {
  const rows = entries.map(e => {
    const href = encodeURIComponent(e.name) + (e.type === 'dir' ? '/' : '')
    const label = escapeHtml(e.name) + (e.type === 'dir' ? '/' : '')
    return `<tr><td><a href="${escapeHtml(href)}">${label}</a></td><td>${e.type === 'dir' ? '-' : humanSize(e.size)}</td><td><code>${e.hash}</code></td></tr>`
  })
  if (!isRoot) rows.unshift('<tr><td><a href="../">../</a></td><td></td><td></td></tr>')
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Index of ${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td{padding:.2em 1em .2em 0}code{color:#666;font-size:.85em}</style>
</head>
<body>
<h1>Index of ${escapeHtml(title)}</h1>
<p>Directory <code>${rootHash}</code></p>
<table>
<thead><tr><th align="left">Name</th><th align="left">Size</th><th align="left">Hash</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>
</body>
</html>
`
}
