/**
 * A tiny FIFO async mutex: `run(fn)` executes fn exclusively.
 */
export class Mutex {
  private tail: Promise<void> = Promise.resolve()

  async run<T> (fn: () => Promise<T> | T): Promise<T> {
    const prev = this.tail
    let release!: () => void
    this.tail = new Promise<void>(resolve => { release = resolve })
    await prev
    try {
      return await fn()
    } finally {
      release()
    }
  }
}
