/**
 * OpenHashDB as a library: the node interface and its in-process
 * implementation, configuration, typed errors, and content helpers.
 */
export { LocalNode } from './node.js'
export type { OpenHashNode, AddResult, PinResult, UnpinResult, RmResult, NodeStats, ReadOptions, ContentInfo, GcResult, VerifyResult, DirEntry } from './interface.js'
export { MIN_PRIORITY, MAX_PRIORITY, DEFAULT_PRIORITY, parsePriority } from './interface.js'
export { loadConfig } from './config.js'
export type { Config } from './config.js'
export * from './errors.js'
export { sha256hex, parseHash, isHash } from './format/hash.js'
export { hashDirectory, encodeDirectory, decodeDirectory } from './format/directory.js'
export { exportTo } from './content/exporter.js'
export { OpenHashClient } from './client/client.js'
export type { ClientOptions } from './client/client.js'
export { createApp } from './api/app.js'
export { startServer } from './api/server.js'
export type { RunningServer, ServerOptions } from './api/server.js'
export type { NetworkInfo, HealthInfo, TreePart, TreeMeta, OperationOptions, ProgressEvent } from './interface.js'
