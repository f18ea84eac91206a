import { describe, expect, it } from 'vitest'
import { DAEMON_HEAP_GROWING_PERCENT, tuneHeapForDaemon } from '../../src/cli/heap.js'

describe('daemon heap tuning', () => {
  it('pins the growing factor at V8\'s maximum (4x) unless node was given one', () => {
    expect(DAEMON_HEAP_GROWING_PERCENT).toBe(300)
    expect(tuneHeapForDaemon(['--heap-growing-percent=50'])).toBe(false)
    expect(tuneHeapForDaemon(['--heap_growing_percent=50'])).toBe(false)
    expect(tuneHeapForDaemon(['--max-old-space-size=512'])).toBe(true)
  })
})
