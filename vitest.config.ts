import { defineConfig } from 'vitest/config'
import { LongFilesFirstSequencer } from './test/sequencer.js'

/**
 * Two projects: everything in-process, and the CLI process suite once more
 * against real daemons (`--api`), so both modes must print and exit alike.
 * lock and config tests are about the in-process store itself and run once.
 */
export default defineConfig({
  test: {
    setupFiles: ['./test/setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // two files at a time: on 2 cores vitest's default is one, and most files wait on child processes,
    // sockets and fsync more than they compute (measured: 640 s serial, 399 s with two, all green)
    maxWorkers: 2,
    // long, idle files (test/api/slow-upload.test.ts, ~6 min) start first and overlap the rest
    sequence: { sequencer: LongFilesFirstSequencer },
    reporters: ['default'],
    projects: [
      {
        extends: true,
        test: { name: 'main', include: ['test/**/*.test.ts'] }
      },
      {
        extends: true,
        test: {
          name: 'cli-api',
          include: ['test/cli/**/*.test.ts'],
          exclude: ['test/cli/lock.test.ts', 'test/cli/config.test.ts'],
          env: { OPENHASH_TEST_CLI_MODE: 'api' }
        }
      }
    ]
  }
})
