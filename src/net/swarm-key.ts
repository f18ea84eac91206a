/**
 * Pre-shared swarm keys for a private network (network.swarm_key_file): the
 * go-ipfs format libp2p's private-network protector reads,
 *
 *   /key/swarm/psk/1.0.0/
 *   /base16/
 *   <64 hex digits: 32 random bytes>
 *
 * A node with a key connects only to peers with the same key (every
 * connection is wrapped in XSalsa20 keyed by it before anything else is
 * said); a peer without it, or with another, fails the handshake.
 */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { isAbsolute, resolve } from 'node:path'
import { ConfigInvalidError } from '../errors.js'

const HEADER = '/key/swarm/psk/1.0.0/'
const CODEC = '/base16/'

/** A new swarm key file's contents (with a trailing newline). */
export function newSwarmKey (): string {
  return `${HEADER}\n${CODEC}\n${randomBytes(32).toString('hex')}\n`
}

/** The key file's path: relative paths are taken against the data directory. */
export function swarmKeyPath (file: string, dataDir: string): string {
  return isAbsolute(file) ? file : resolve(dataDir, file)
}

/** Check a swarm key file's text; returns it in the exact form the protector expects. */
export function parseSwarmKey (text: string, where: string): Uint8Array {
  const lines = text.split(/\r\n|\r|\n/).map(l => l.trim()).filter(l => l !== '')
  if (lines.length !== 3 || lines[0] !== HEADER || lines[1] !== CODEC || !/^[0-9a-fA-F]{64}$/.test(lines[2])) {
    throw new ConfigInvalidError(`network.swarm_key_file ${where} is not a swarm key: expected the lines ${HEADER}, ${CODEC} and 64 hex digits (make one with \`openhash swarm-key\`)`, { path: 'network.swarm_key_file' })
  }
  return Buffer.from(`${HEADER}\n${CODEC}\n${lines[2].toLowerCase()}`)
}

/** Read and check the key file named by network.swarm_key_file. */
export function loadSwarmKey (file: string, dataDir: string): Uint8Array {
  const path = swarmKeyPath(file, dataDir)
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err: any) {
    throw new ConfigInvalidError(`cannot read network.swarm_key_file ${path}: ${String(err?.message ?? err)}`, { path: 'network.swarm_key_file' })
  }
  return parseSwarmKey(text, path)
}
