/**
 * Request bodies and parameters parsed at the edge with zod. A failure is a 400 with one code per
 * field (`required`, `too-short`, `too-long`, `format`, `invalid`) that the browser shows in the
 * user's language next to the field.
 */
import type { z } from 'zod';
import { HttpError } from './http-error.js';

export function fieldCode(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'too_small':
      return issue.origin === 'string' && issue.minimum === 1 ? 'required' : 'too-short';
    case 'too_big':
      return 'too-long';
    case 'invalid_format':
      return 'format';
    case 'invalid_type':
      return issue.input === undefined ? 'required' : 'invalid';
    case 'unrecognized_keys':
      return 'unknown-field';
    default:
      return /^[a-z-]{1,24}$/.test(issue.message) ? issue.message : 'invalid';
  }
}

export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const parsed = schema.safeParse(body ?? {});
  if (parsed.success) return parsed.data;
  const fields: Record<string, string> = {};
  for (const issue of parsed.error.issues) {
    const key = issue.path.map(String).join('.') || 'form';
    fields[key] ??= fieldCode(issue);
  }
  throw new HttpError(400, 'invalid', 'some fields are not valid', fields);
}
