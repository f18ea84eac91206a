/**
 * Requests per connection. Node parses pipelined requests as they arrive and
 * hands each to the app at once, but answers them one after another; when
 * the client closes the connection, only the request being answered hears
 * of it (its response emits 'close'), the queued ones never do. Here every
 * open request is registered on its socket: when the socket closes, each
 * learns that its client is gone. And a connection may have at most
 * `maxPending` requests open at a time: one more and it is destroyed (a
 * client that pipelines without reading its answers cannot make the daemon
 * hold an unbounded number of them).
 */
import type { Socket } from 'node:net'

export class ConnectionRequests {
  private readonly open = new WeakMap<Socket, Set<() => void>>()

  constructor (private readonly maxPending: number) {}

  /**
   * Register a request on its socket: `gone` runs once when the socket closes
   * first. Returns the unregister function, or undefined when the socket
   * already holds `maxPending` open requests or is closed (it is destroyed;
   * `gone` of all its requests runs, this one's too).
   */
  add (socket: Socket, gone: () => void): (() => void) | undefined {
    if (socket.destroyed) {
      // closed before its request got here: its 'close' may already have been emitted
      process.nextTick(gone)
      return undefined
    }
    let set = this.open.get(socket)
    if (set === undefined) {
      const created = new Set<() => void>()
      set = created
      this.open.set(socket, created)
      socket.once('close', () => {
        this.open.delete(socket)
        for (const g of [...created]) g()
        created.clear()
      })
    }
    set.add(gone)
    if (set.size > this.maxPending) {
      socket.destroy()
      return undefined
    }
    const own = set
    return () => { own.delete(gone) }
  }
}
