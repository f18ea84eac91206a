/**
 * Upload: drag and drop of files and folders (relative paths kept, empty
 * folders too), a file picker and a folder picker; each file or folder is one
 * request (POST /upload/file or /upload/folder, XHR for progress) with bytes,
 * speed and cancel; a folder also shows each of its files' bytes and
 * progress. The File objects are the form's parts: the browser streams them
 * from disk, nothing is read into memory here.
 */
import { useRef, useState } from 'preact/hooks'
import type { FolderUpload, UploadHandle, UploadResult } from '../api.js'
import { uploadFile, uploadFolder } from '../api.js'
import { bytes, Copy, messageOf, short } from '../util.js'

type Job = { id: number, name: string, size: number, files: number, loaded: number, started?: number, finished?: number, state: 'waiting' | 'sending' | 'storing' | 'done' | 'failed' | 'cancelled', result?: UploadResult, error?: string, cancel?: () => void } &
  ({ kind: 'file', file: File } | { kind: 'folder', folder: FolderUpload })

const CONCURRENCY = 2
/** Files of a folder listed one by one at most (the counts cover the rest). */
const FILE_ROWS = 500
let ids = 0

/**
 * How far each file of a folder is, from the bytes of file data sent so far
 * (`sent`): the parts go in the form's order, one file after another, so the
 * first files are complete, then one is partly sent, then none of the rest.
 */
function perFile (sizes: number[], sent: number): number[] {
  let left = sent
  return sizes.map(size => { const got = Math.max(0, Math.min(size, left)); left -= got; return got })
}

/** A folder's files with their progress: the one being sent, the count done, and a list. */
function FolderFiles ({ folder, loaded, done }: { folder: FolderUpload, loaded: number, done: boolean }) {
  const sizes = folder.files.map(f => f.file.size)
  const got = done ? sizes : perFile(sizes, loaded)
  const complete = got.filter((g, i) => g === sizes[i]).length
  const current = got.findIndex((g, i) => g < sizes[i])
  return (
    <div class='small folder-files'>
      <p class='muted' data-testid='files-done'>
        {complete} of {sizes.length} file{sizes.length === 1 ? '' : 's'} sent
        {current !== -1 && got[current] > 0 && <> · now <span class='mono wrap'>{folder.files[current].path}</span> ({bytes(got[current])} of {bytes(sizes[current])})</>}
      </p>
      <details>
        <summary>Each file</summary>
        <ul class='plain files'>
          {folder.files.slice(0, FILE_ROWS).map((f, i) => (
            <li key={f.path} data-file={f.path} class='row between'>
              <span class='mono wrap grow'>{f.path}</span>
              <span class='muted'>{bytes(got[i])} of {bytes(sizes[i])}</span>
              <progress class='file-progress' max={100} value={sizes[i] === 0 ? (got[i] === sizes[i] && loaded > 0 ? 100 : 0) : Math.round(got[i] / sizes[i] * 100)} aria-label={`Upload of ${f.path}`} />
            </li>
          ))}
        </ul>
        {folder.files.length > FILE_ROWS && <p class='muted'>…and {folder.files.length - FILE_ROWS} more (counted above).</p>}
      </details>
    </div>
  )
}

async function readAll (dir: FileSystemDirectoryEntry): Promise<FileSystemEntry[]> {
  const reader = dir.createReader()
  const out: FileSystemEntry[] = []
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject))
    if (batch.length === 0) return out
    out.push(...batch)
  }
}

async function walk (dir: FileSystemDirectoryEntry, prefix: string, into: FolderUpload): Promise<void> {
  const entries = await readAll(dir)
  if (entries.length === 0 && prefix !== '') into.emptyDirs.push(prefix.slice(0, -1))
  for (const e of entries) {
    if (e.isFile) {
      const file = await new Promise<File>((resolve, reject) => (e as FileSystemFileEntry).file(resolve, reject))
      into.files.push({ path: prefix + e.name, file })
    } else if (e.isDirectory) {
      await walk(e as FileSystemDirectoryEntry, `${prefix}${e.name}/`, into)
    }
  }
}

/** Files from a folder picker: grouped by their top folder, paths relative to it. */
function foldersOf (files: FileList): FolderUpload[] {
  const byRoot = new Map<string, FolderUpload>()
  for (const file of Array.from(files)) {
    const [root, ...rest] = file.webkitRelativePath.split('/')
    const f = byRoot.get(root) ?? { name: root, files: [], emptyDirs: [] }
    f.files.push({ path: rest.join('/'), file })
    byRoot.set(root, f)
  }
  return [...byRoot.values()]
}

export function Upload () {
  const [jobs, setJobs] = useState<Job[]>([])
  const [over, setOver] = useState(false)
  const [note, setNote] = useState<string | undefined>()
  const running = useRef(0)
  const queue = useRef<Job[]>([])

  const update = (id: number, patch: Partial<Job>): void => setJobs(js => js.map(j => j.id === id ? { ...j, ...patch } as Job : j))

  function pump (): void {
    while (running.current < CONCURRENCY && queue.current.length > 0) {
      const job = queue.current.shift()!
      running.current++
      const started = performance.now()
      // the request's bytes include the form's part headers: scaled to file bytes (exact at both ends)
      const onProgress = (p: { loaded: number, total: number }): void => update(job.id, { loaded: Math.min(job.size, p.total > 0 ? Math.round(p.loaded * job.size / p.total) : 0), state: p.loaded >= p.total ? 'storing' : 'sending' })
      const handle: UploadHandle = job.kind === 'file' ? uploadFile(job.file, onProgress) : uploadFolder(job.folder, onProgress)
      update(job.id, { state: 'sending', started, cancel: handle.cancel })
      handle.done.then(
        result => update(job.id, { state: 'done', result, loaded: job.size, finished: performance.now(), cancel: undefined }),
        err => update(job.id, { state: (err as { code?: string }).code === 'CANCELLED' ? 'cancelled' : 'failed', error: messageOf(err), finished: performance.now(), cancel: undefined })
      ).finally(() => { running.current--; pump() })
    }
  }

  function add (items: Array<{ file: File } | { folder: FolderUpload }>): void {
    const made: Job[] = items.map(it => 'file' in it
      ? { id: ++ids, kind: 'file', file: it.file, name: it.file.name, size: it.file.size, files: 1, loaded: 0, state: 'waiting' }
      : { id: ++ids, kind: 'folder', folder: it.folder, name: it.folder.name, size: it.folder.files.reduce((n, f) => n + f.file.size, 0), files: it.folder.files.length, loaded: 0, state: 'waiting' })
    if (made.length === 0) return
    setJobs(js => [...made, ...js])
    queue.current.push(...made)
    pump()
  }

  function cancel (job: Job): void {
    if (job.cancel !== undefined) { job.cancel(); return }
    queue.current = queue.current.filter(j => j.id !== job.id)
    update(job.id, { state: 'cancelled', error: 'upload cancelled' })
  }

  async function drop (e: DragEvent): Promise<void> {
    e.preventDefault()
    setOver(false)
    const dt = e.dataTransfer
    if (dt === null) return
    const entries = Array.from(dt.items).map(i => i.webkitGetAsEntry()).filter((x): x is FileSystemEntry => x !== null)
    if (entries.length === 0) { add(Array.from(dt.files).map(file => ({ file }))); return }
    const items: Array<{ file: File } | { folder: FolderUpload }> = []
    for (const entry of entries) {
      if (entry.isDirectory) {
        const folder: FolderUpload = { name: entry.name, files: [], emptyDirs: [] }
        await walk(entry as FileSystemDirectoryEntry, '', folder)
        if (folder.files.length === 0 && folder.emptyDirs.length === 0) { setNote(`"${entry.name}" is empty: nothing to upload.`); continue }
        items.push({ folder })
      } else {
        items.push({ file: await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject)) })
      }
    }
    add(items)
  }

  return (
    <section>
      <h1>Upload</h1>
      <div
        class={`dropzone${over ? ' over' : ''}`}
        onDragOver={(e) => { e.preventDefault(); setOver(true) }}
        onDragLeave={() => setOver(false)}
        onDrop={(e) => { void drop(e) }}
      >
        <p>Drop files or folders here</p>
        <div class='row center'>
          <label class='button' for='pick-files'>Choose files</label>
          <input id='pick-files' class='visually-hidden' type='file' multiple onChange={(e) => { const t = e.currentTarget; add(Array.from(t.files ?? []).map(file => ({ file }))); t.value = '' }} />
          <label class='button' for='pick-folder'>Choose a folder</label>
          <input id='pick-folder' class='visually-hidden' type='file' multiple {...{ webkitdirectory: true }} onChange={(e) => { const t = e.currentTarget; add(foldersOf(t.files ?? ([] as unknown as FileList)).map(folder => ({ folder }))); t.value = '' }} />
        </div>
        <p class='muted small'>Each file is stored by its SHA-256; a folder keeps its relative paths (a folder picker cannot see empty subfolders; drag and drop can).</p>
      </div>
      {note !== undefined && <p class='warn'>{note}</p>}
      {jobs.length === 0
        ? <p class='muted'>Nothing uploaded in this tab yet.</p>
        : (
          <ul class='jobs' aria-live='polite'>
            {jobs.map(j => {
              const secs = j.started === undefined ? 0 : ((j.finished ?? performance.now()) - j.started) / 1000
              const speed = secs > 0 ? j.loaded / secs : 0
              const pct = j.size === 0 ? (j.state === 'done' ? 100 : 0) : Math.round((j.loaded / j.size) * 100)
              return (
                <li key={j.id} class={`job ${j.state}`} data-name={j.name}>
                  <div class='row between'>
                    <strong class='wrap'>{j.name}{j.kind === 'folder' ? '/' : ''}</strong>
                    <span class='muted small'>{j.kind === 'folder' ? `${j.files} file${j.files === 1 ? '' : 's'}, ` : ''}{bytes(j.loaded)} of {bytes(j.size)}{speed > 0 ? ` · ${bytes(speed)}/s` : ''}</span>
                  </div>
                  <progress max={100} value={pct} aria-label={`Upload of ${j.name}`} />
                  {j.kind === 'folder' && j.folder.files.length > 0 && <FolderFiles folder={j.folder} loaded={j.loaded} done={j.state === 'done'} />}
                  <div class='row between'>
                    <span class='state'>{j.state === 'storing' ? 'sent, storing…' : j.state}</span>
                    {(j.state === 'waiting' || j.state === 'sending' || j.state === 'storing') && <button type='button' class='small' onClick={() => cancel(j)}>Cancel</button>}
                  </div>
                  {j.result !== undefined && (
                    <p class='mono wrap result'>
                      <a href={j.result.is_directory ? `#/folders/${j.result.hash}` : `#/files/${j.result.hash}`} data-hash={j.result.hash}>{short(j.result.hash)}</a> <Copy text={j.result.hash} label='hash' />
                    </p>
                  )}
                  {j.error !== undefined && j.state === 'failed' && <p class='error' role='alert'>{j.error}</p>}
                </li>
              )
            })}
          </ul>
          )}
    </section>
  )
}
