/**
 * The node's persistent Ed25519 identity: <data-dir>/peer.key (protobuf
 * private key, mode 0600), created on first start, so the peer id survives
 * restarts.
 */
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { chmod, open, readFile, rename } from 'node:fs/promises'
import { join } from 'node:path'
import { ConfigInvalidError } from '../errors.js'

export const KEY_FILE = 'peer.key'

export async function loadOrCreateIdentity (dataDir: string): Promise<PrivateKey> {
  const path = join(dataDir, KEY_FILE)
  try {
    const bytes = await readFile(path)
    try {
      return privateKeyFromProtobuf(bytes)
    } catch (err: any) {
      throw new ConfigInvalidError(`peer identity ${path} is unreadable (${String(err?.message ?? err)}); move it away to create a new identity`)
    }
  } catch (err: any) {
    if (err?.code !== 'ENOENT') throw err
  }
  const key = await generateKeyPair('Ed25519')
  const tmp = `${path}.tmp-${process.pid}`
  const fh = await open(tmp, 'w', 0o600)
  try {
    await fh.writeFile(privateKeyToProtobuf(key))
    await fh.sync()
  } finally {
    await fh.close()
  }
  await chmod(tmp, 0o600)
  await rename(tmp, path)
  return key
}
