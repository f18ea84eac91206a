/**
 * Small JSON request bodies checked against a zod schema (a local stand-in
 * for @hono/zod-validator): the body is at most 16 KiB of JSON, an empty one
 * is `{}`, and any failure is a 400 INVALID_ARGUMENT whose message is the
 * schema's own text for the first problem.
 */
import type { Context } from 'hono'
import type { z } from 'zod'
import { InvalidArgumentError } from '../errors.js'

const MAX_BODY = 16 * 1024

/** A small JSON body as an object; `{}` when there is none. */
async function jsonBody (c: Context): Promise<Record<string, unknown>> {
  const length = Number(c.req.header('content-length') ?? 0)
  if (length > MAX_BODY) throw new InvalidArgumentError('request body too large (at most 16 KiB of JSON)')
  const text = await c.req.text()
  if (text.length > MAX_BODY) throw new InvalidArgumentError('request body too large (at most 16 KiB of JSON)')
  if (text.trim() === '') return {}
  const type = c.req.header('content-type') ?? ''
  if (!/^application\/json\b/i.test(type)) throw new InvalidArgumentError(`expected Content-Type: application/json, got "${type}"`)
  let v: unknown
  try { v = JSON.parse(text) } catch { throw new InvalidArgumentError('request body is not valid JSON') }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new InvalidArgumentError('request body must be a JSON object')
  return v as Record<string, unknown>
}

/** The request's JSON body, parsed by `schema`. */
export async function validBody<S extends z.ZodType> (c: Context, schema: S): Promise<z.output<S>> {
  const result = schema.safeParse(await jsonBody(c))
  if (!result.success) throw new InvalidArgumentError(result.error.issues[0]?.message ?? 'invalid request body')
  return result.data
}
