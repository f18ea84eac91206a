/**
 * The suite's file order: vitest's own (BaseSequencer: failed and longer
 * files first, by its cache), except that the few files that are long by
 * design (they wait, mostly idle, for minutes, e.g. a slow upload that must
 * outlast Node's old 300 s request timeout) start first, so they overlap
 * the rest of the suite on the other worker instead of adding their
 * minutes to its end.
 */
import { BaseSequencer } from 'vitest/node'
import type { TestSpecification } from 'vitest/node'

/** Long, idle files, by path from the root (any project). */
export const FIRST = ['test/api/slow-upload.test.ts']

export class LongFilesFirstSequencer extends BaseSequencer {
  override async sort (files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files)
    const first = (f: TestSpecification): boolean => FIRST.some(p => f.moduleId.replace(/\\/g, '/').endsWith(`/${p}`))
    return [...sorted.filter(first), ...sorted.filter(f => !first(f))]
  }
}
