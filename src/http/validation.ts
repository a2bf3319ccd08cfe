import type { z } from 'zod';
import { errors } from '../errors/index.ts';

/** Parses with a zod schema; failures become 400 invalid_request naming each bad field. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, what = 'request body'): z.infer<S> {
  const r = schema.safeParse(value ?? {});
  if (r.success) return r.data;
  const fields: Record<string, string> = {};
  for (const issue of r.error.issues) {
    const k = issue.path.length > 0 ? issue.path.join('.') : '(root)';
    if (!(k in fields)) fields[k] = issue.message;
  }
  throw errors.invalidRequest(`Invalid ${what}: ${Object.keys(fields).join(', ')}`, { fields });
}
