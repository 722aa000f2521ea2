/**
 * Validation at the edge of the repositories: whatever calls the store (pbxctl, the web UI, the
 * cloud agent), bad fields come back as StoreError('invalid') with a message a user can act on.
 */
import { z } from 'zod';
import { LANGUAGES, StoreError } from './types.js';

export const extensionNumber = z.string().regex(/^\d{2,6}$/, 'extension number must be 2 to 6 digits');
const displayName = z
  .string()
  .trim()
  .min(1, 'display name must not be empty')
  .max(64, 'display name must be at most 64 characters');
const secret = z
  .string()
  .min(8, 'secret must be at least 8 characters')
  .max(128, 'secret must be at most 128 characters')
  .regex(/^[\x21-\x7e]+$/, 'secret must be printable ASCII without spaces');
const pin = z.string().regex(/^\d{4,10}$/, 'voicemail PIN must be 4 to 10 digits');
/** The voicemail PIN rule (the web UI checks a PIN change with it at the edge, the store again). */
export const voicemailPinSchema = pin;
const language = z.enum(LANGUAGES, { error: `language must be one of ${LANGUAGES.join(', ')}` });

export const newExtensionSchema = z
  .object({
    number: extensionNumber,
    displayName,
    secret,
    voicemailPin: pin.nullable().optional(),
    language: language.optional(),
  })
  .refine((e) => e.secret !== e.number, { message: 'secret must not equal the extension number', path: ['secret'] });

export const extensionPatchSchema = z
  .object({
    displayName: displayName.optional(),
    secret: secret.optional(),
    voicemailPin: pin.nullable().optional(),
    language: language.optional(),
  })
  .strict();

export const username = z
  .string()
  .regex(/^[a-zA-Z0-9._-]{2,32}$/, 'username must be 2 to 32 letters, digits, dots, dashes or underscores');
export const password = z
  .string()
  .min(8, 'password must be at least 8 characters')
  .max(256, 'password must be at most 256 characters');

export const newUserSchema = z.object({
  username,
  displayName,
  email: z.email('email is not a valid address').nullable().optional(),
  role: z.enum(['admin', 'user'], { error: 'role must be admin or user' }),
  language: language.optional(),
  extension: extensionNumber.nullable().optional(),
  password,
  mustChangePassword: z.boolean().optional(),
});

export const userPatchSchema = z
  .object({
    displayName: displayName.optional(),
    email: z.email('email is not a valid address').nullable().optional(),
    role: z.enum(['admin', 'user'], { error: 'role must be admin or user' }).optional(),
    language: language.optional(),
    extension: extensionNumber.nullable().optional(),
  })
  .strict();

export const settingKey = z.string().regex(/^[a-z][a-z0-9_.-]{0,63}$/, 'setting key must be lower-case, at most 64 characters');

/** Parses or throws StoreError('invalid') naming the first bad field. */
export function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  throw new StoreError('invalid', `${where}${issue?.message ?? 'invalid value'}`);
}
