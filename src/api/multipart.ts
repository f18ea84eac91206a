/**
 * multipart/form-data as an async sequence of parts, parsed as a stream
 * (busboy on the Node request): a file part's bytes flow straight from the
 * socket to the store, never buffered whole. The consumer must finish (or
 * skip) a file part's stream before asking for the next part; a part it
 * skips is drained. The total of file bytes is capped (413 past the cap).
 *
 * The request ending early (the client disconnected, or `signal` fired:
 * client gone, idle body, shutdown) fails the file part being read at once,
 * with the signal's reason: busboy itself would leave that part's stream
 * waiting forever, and the import reading it with it.
 */
import type { IncomingMessage } from 'node:http'
import type { Readable } from 'node:stream'
import busboy from 'busboy'
import { AbortedError, InvalidArgumentError, isOpenHashError, PayloadTooLargeError } from '../errors.js'

export type Part =
  | { kind: 'field', name: string, value: string }
  | { kind: 'file', name: string, filename: string, mimeType: string, body: AsyncIterable<Uint8Array> }

export interface MultipartOptions {
  /** Cap on the sum of all file parts' bytes. */
  maxBytes: number
  signal?: AbortSignal
}

const HWM = 1024 * 1024

/**
 * Browsers and fetch's FormData (WHATWG HTML) send `"`, CR and LF in file
 * names as %22, %0D and %0A; undo exactly that. (Exact names of any kind can
 * always be sent in a `filename` or `path` field instead.)
 */
export function decodeFilename (name: string): string {
  return name.replace(/%22/g, '"').replace(/%0D/gi, '\r').replace(/%0A/gi, '\n')
}

export function isMultipart (contentType: string | undefined): boolean {
  return contentType !== undefined && /^multipart\/form-data\s*;/i.test(contentType) && /boundary=/i.test(contentType)
}

/**
 * A readable's pieces exactly as they are pushed, with backpressure (pause
 * past HWM queued bytes). Not `for await (const x of stream)`: a Readable's
 * async iterator calls read(), which joins everything buffered into one new
 * Buffer, i.e. a copy of every uploaded byte (and an allocation per read) on
 * the main thread.
 */
async function * pieces (stream: Readable): AsyncGenerator<Buffer> {
  const queue: Buffer[] = []
  let queued = 0
  let ended = false
  let failure: { err: unknown } | undefined
  let wake: (() => void) | undefined
  const signal = (): void => { wake?.(); wake = undefined }
  const onData = (piece: Buffer): void => {
    queue.push(piece)
    queued += piece.length
    if (queued >= HWM) stream.pause()
    signal()
  }
  const onEnd = (): void => { ended = true; signal() }
  // busboy fails a file part with its own errors (e.g. "Unexpected end of form"): the client's fault
  const onError = (err: unknown): void => {
    failure ??= { err: isOpenHashError(err) ? err : new InvalidArgumentError(`malformed multipart request: ${String((err as Error)?.message ?? err)}`) }
    signal()
  }
  const onClose = (): void => { if (!ended) failure ??= { err: new InvalidArgumentError('file part ended early') }; signal() }
  stream.on('data', onData)
  stream.once('end', onEnd)
  stream.once('error', onError)
  stream.once('close', onClose)
  try {
    while (true) {
      if (queue.length > 0) {
        const piece = queue.shift()!
        queued -= piece.length
        if (queued < HWM && stream.isPaused() && !ended && failure === undefined) stream.resume()
        yield piece
        continue
      }
      if (ended) return
      if (failure !== undefined) throw failure.err
      await new Promise<void>(resolve => { wake = resolve })
    }
  } finally {
    stream.off('data', onData)
    stream.off('end', onEnd)
    stream.off('error', onError)
    stream.off('close', onClose)
    // paused by us: left paused; whoever drains or destroys the part takes over
  }
}

/** A busboy parser for the request, or INVALID_ARGUMENT when it is not multipart/form-data. */
function openBusboy (req: IncomingMessage): busboy.Busboy {
  if (!isMultipart(req.headers['content-type'])) {
    throw new InvalidArgumentError('expected a multipart/form-data body', { content_type: req.headers['content-type'] ?? null })
  }
  try {
    return busboy({
      headers: req.headers,
      preservePath: true, // folder uploads carry relative paths in filenames
      defParamCharset: 'utf8', // curl and browsers send UTF-8 file names
      highWaterMark: HWM,
      fileHwm: HWM,
      limits: { fieldSize: 1024 * 1024, fields: 100_000, parts: 200_000 }
    })
  } catch (err: any) {
    throw new InvalidArgumentError(`malformed multipart request: ${String(err?.message ?? err)}`)
  }
}

export async function * parseMultipart (req: IncomingMessage, options: MultipartOptions): AsyncGenerator<Part> {
  const bb = openBusboy(req)

  // events from busboy, consumed in order; `wake` resumes the consumer
  const queue: Array<{ part: Part, stream?: Readable } | { end: true } | { error: unknown }> = []
  let wake: (() => void) | undefined
  const push = (item: typeof queue[number]): void => { queue.push(item); wake?.(); wake = undefined }
  bb.on('field', (name, value) => push({ part: { kind: 'field', name, value } }))
  bb.on('file', (name, stream, info) => {
    // a part the consumer never reads (it stopped at an earlier field) still gets busboy's
    // "Unexpected end of file" when busboy is destroyed below: never an unhandled 'error'
    // (that would crash the daemon); pieces() listens for the errors of parts it reads
    stream.on('error', () => {})
    push({ part: { kind: 'file', name, filename: decodeFilename(info.filename ?? ''), mimeType: info.mimeType, body: counted(stream) }, stream })
  })
  bb.on('close', () => push({ end: true }))
  bb.on('error', (err: any) => push({ error: new InvalidArgumentError(`malformed multipart request: ${String(err?.message ?? err)}`) }))
  bb.on('partsLimit', () => push({ error: new InvalidArgumentError('too many parts in the multipart request') }))
  bb.on('fieldsLimit', () => push({ error: new InvalidArgumentError('too many fields in the multipart request') }))
  let current: Readable | undefined
  let failed = false
  const fail = (err: unknown): void => {
    if (failed) return
    failed = true
    push({ error: err })
    // the part being read fails too (busboy neither ends nor fails it when the request stops)
    if (current !== undefined && !current.readableEnded) current.destroy(err as Error)
  }
  const onAborted = (): void => fail(new InvalidArgumentError('request body ended early (client disconnected)'))
  const onAbort = (): void => {
    const reason: unknown = options.signal?.reason
    fail(isOpenHashError(reason) ? reason : new AbortedError('request aborted'))
  }
  req.once('aborted', onAborted)
  options.signal?.addEventListener('abort', onAbort)

  let total = 0
  async function * counted (stream: Readable): AsyncGenerator<Uint8Array> {
    for await (const piece of pieces(stream)) {
      total += piece.length
      if (total > options.maxBytes) {
        throw new PayloadTooLargeError(`upload exceeds the maximum size of ${options.maxBytes} bytes`, { max_bytes: options.maxBytes })
      }
      yield piece
    }
    if ((stream as any).truncated === true) throw new InvalidArgumentError('file part truncated')
  }

  req.pipe(bb)
  let finished = false
  try {
    if (options.signal?.aborted === true) onAbort()
    while (true) {
      // a file part the consumer left unread is drained, so busboy can go on
      if (current !== undefined && !current.readableEnded) current.resume()
      current = undefined
      if (queue.length === 0) await new Promise<void>(resolve => { wake = resolve })
      const item = queue.shift()!
      if ('end' in item) { finished = true; return }
      if ('error' in item) throw item.error
      current = item.stream
      yield item.part
    }
  } finally {
    options.signal?.removeEventListener('abort', onAbort)
    req.off('aborted', onAborted)
    if (!finished) {
      // stopped early (error or consumer gave up): detach; Node discards the
      // rest of the body once the response is sent
      req.unpipe(bb)
      current?.destroy()
      bb.removeAllListeners()
      bb.on('error', () => {})
      bb.destroy()
    }
  }
}
