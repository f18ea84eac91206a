/**
 * GET /list?q=: a case-insensitive name search over the whole store, over
 * real HTTP on loopback, paged by the same `Link: rel="next"`. Each page
 * looks at a bounded number of objects (the server's listScanLimit, 20 here),
 * so matches far into the store are reached by following the links, pages
 * may be short or empty while a next link exists, and the last page has none.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { LocalNode } from '../../src/node.js'
import type { RunningServer } from '../../src/api/server.js'
import { startServer } from '../../src/api/server.js'
import { OpenHashClient } from '../../src/client/client.js'
import { tempDir } from '../helpers/tmp.js'

interface Item { hash: string, filename: string }

function nextOf (res: Response): string | undefined {
  return /<([^>]+)>; rel="next"/.exec(res.headers.get('link') ?? '')?.[1]
}

describe('GET /list?q=', () => {
  let dir: { path: string, cleanup: () => Promise<void> }
  let node: LocalNode
  let server: RunningServer
  const names: string[] = []
  beforeAll(async () => {
    dir = await tempDir()
    node = await LocalNode.open(loadConfig({ dataDir: dir.path, env: {}, overrides: {} }), 'list search test')
    for (let i = 0; i < 90; i++) {
      // 6 of 90 are reports, in mixed case; their hashes fall all over the hash order
      const name = i % 15 === 7 ? `Quarterly-REPORT-${i}.pdf` : `note-${i}.txt`
      names.push(name)
      await node.addStream((async function * () { yield Buffer.from(`object ${i}\n`) })(), { filename: name })
    }
    server = await startServer(node, { host: '127.0.0.1', port: 0, maxUploadBytes: 1024 * 1024, listScanLimit: 20 })
  })
  afterAll(async () => {
    await server?.close(1000)
    await node?.close()
    await dir?.cleanup()
  })

  async function follow (first: string): Promise<{ items: Item[], pages: Array<{ count: number, next?: string }> }> {
    const items: Item[] = []
    const pages: Array<{ count: number, next?: string }> = []
    let url: string | undefined = first
    while (url !== undefined) {
      const res = await fetch(server.url + url)
      expect(res.status, url).toBe(200)
      const page = await res.json() as Item[]
      items.push(...page)
      url = nextOf(res)
      pages.push({ count: page.length, next: url })
      expect(pages.length).toBeLessThan(50)
    }
    return { items, pages }
  }

  it('finds every match over the whole store by following Link, in hash order, case-insensitive', async () => {
    const all = await (await fetch(`${server.url}/list`)).json() as Item[]
    expect(all).toHaveLength(90)
    const expected = all.filter(i => i.filename.toLowerCase().includes('report')).map(i => i.hash)
    expect(expected).toHaveLength(6)
    const { items, pages } = await follow('/list?q=rEpOrT&limit=2')
    expect(items.map(i => i.hash)).toEqual(expected)
    expect(items.every(i => /REPORT/.test(i.filename))).toBe(true)
    // bounded work: 90 objects at 20 a page take at least 5 pages, some of them short or empty
    expect(pages.length).toBeGreaterThanOrEqual(5)
    expect(pages.some(p => p.count < 2 && p.next !== undefined)).toBe(true)
    expect(pages.every(p => p.count <= 2)).toBe(true)
    expect(pages.at(-1)!.next).toBeUndefined()
    // the link keeps the query, the cursor and the page size
    expect(pages[0].next).toMatch(/^\/list\?q=rEpOrT&after=[0-9a-f]{64}&limit=2$/)
    // a match past the first page is found (the first page looks at 20 of the 90 objects)
    const firstPage = await (await fetch(`${server.url}/list?q=report&limit=2`)).json() as Item[]
    expect(items.length).toBeGreaterThan(firstPage.length)
  })

  it('without limit: 100 matches a page; a name nobody has gives empty pages and then no link', async () => {
    const { items, pages } = await follow('/list?q=note-1')
    expect(items.map(i => i.filename).sort()).toEqual(names.filter(n => n.includes('note-1')).sort())
    expect(pages[0].next).toMatch(/&limit=100$/)
    const none = await follow('/list?q=' + encodeURIComponent('no such name ✓'))
    expect(none.items).toEqual([])
    expect(none.pages.at(-1)!.next).toBeUndefined()
  })

  it('an empty q is the plain list; a q over 256 characters, or with offset, is 400', async () => {
    expect(await (await fetch(`${server.url}/list?q=`)).json()).toHaveLength(90)
    for (const bad of [`q=${'x'.repeat(257)}`, 'q=note&offset=1', 'q=note&limit=0', 'q=note&after=xyz']) {
      const res = await fetch(`${server.url}/list?${bad}`)
      expect(res.status, bad).toBe(400)
      expect((await res.json() as { error_code: string }).error_code, bad).toMatch(/^INVALID_(ARGUMENT|HASH)$/)
    }
  })

  it('the typed client pages the same way (searchNames, next = the cursor)', async () => {
    const client = new OpenHashClient(server.url)
    const found: string[] = []
    let after: string | undefined
    for (let i = 0; i < 50; i++) {
      const page = await client.searchNames('REPORT', { after, limit: 3 })
      found.push(...page.items.map(x => x.filename))
      if (page.next === undefined) break
      after = page.next
    }
    expect(found.sort()).toEqual(names.filter(n => n.includes('REPORT')).sort())
    // in-process, the same pages with the same bound
    const local = await node.searchNames('report', { limit: 3, scan: 20 })
    const remote = await client.searchNames('report', { limit: 3 })
    expect(remote).toEqual({ items: local.items.map(i => ({ ...i })), next: local.next })
  })
})
