/**
 * A counting semaphore: at most `max` holders at once, the rest wait in
 * FIFO order. Serving uses one per process to bound the chunk bytes held for
 * answers not yet sent (exchange.ts).
 */
export class Permits {
  private used = 0
  private readonly waiting: Array<() => void> = []

  constructor (readonly max: number) {}

  get inUse (): number { return this.used }

  async take (): Promise<void> {
    if (this.used < this.max) { this.used++; return }
    await new Promise<void>(resolve => this.waiting.push(resolve))
  }

  give (): void {
    const next = this.waiting.shift()
    if (next !== undefined) next() // the permit passes straight to the next waiter
    else this.used = Math.max(0, this.used - 1)
  }
}
