/**
 * A progress bar on stderr, drawn only when stderr is a terminal.
 */
import type { ProgressEvent } from '../interface.js'
import { humanBytes } from './format.js'

export interface ProgressBar {
  onProgress?: (evt: ProgressEvent) => void
  done(): void
}

export function progressBar (label: string, stream: NodeJS.WriteStream = process.stderr): ProgressBar {
  if (stream.isTTY !== true) return { done () {} }
  const started = Date.now()
  let last = 0
  let drawn = false
  const draw = (bytes: number, total?: number): void => {
    const secs = Math.max(0.001, (Date.now() - started) / 1000)
    const rate = `${humanBytes(bytes / secs)}/s`
    const width = 30
    let line: string
    if (total !== undefined && total > 0) {
      const frac = Math.min(1, bytes / total)
      const fill = Math.round(frac * width)
      line = `${label} [${'█'.repeat(fill)}${'░'.repeat(width - fill)}] ${(frac * 100).toFixed(0).padStart(3)}% ${humanBytes(bytes)} / ${humanBytes(total)} ${rate}`
    } else {
      line = `${label} ${humanBytes(bytes)} ${rate}`
    }
    stream.write(`\r\x1b[2K${line}`)
    drawn = true
  }
  return {
    onProgress (evt) {
      const now = Date.now()
      if (evt.bytes === undefined || now - last < 100) return
      last = now
      draw(evt.bytes, evt.total)
    },
    done () {
      if (drawn) stream.write('\r\x1b[2K')
    }
  }
}
