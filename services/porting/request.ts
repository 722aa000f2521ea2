/**
 * A number porting request as the seed guides describe it ("Fill in the Number Port Request"):
 * the number type, the current provider and account, the internet connection, the numbers, the
 * service address and account holder as on the bill, the primary number on this box, and the
 * signed acceptance of the terms. Parsed at the edge (web form, pbxctl, the sync agent) into this
 * type; every field error has a stable code the UI translates.
 */
import { z } from 'zod';

export const NUMBER_TYPES = ['landline', 'mobile'] as const;
export type PortNumberType = (typeof NUMBER_TYPES)[number];

/** `dsl-same-line` blocks a request: the DSL would be cut with the port (the guides' note). */
export const CONNECTION_TYPES = ['dsl-same-line', 'dsl-dry-loop', 'cable', 'fiber', 'mobile', 'satellite', 'other'] as const;
export type ConnectionType = (typeof CONNECTION_TYPES)[number];

const text = (max: number) => z.string().trim().min(1, 'required').max(max, 'too-long');

export const portingFormSchema = z
  .object({
    numberType: z.enum(NUMBER_TYPES, { error: 'required' }),
    provider: text(64),
    accountNumber: text(40),
    accountPin: z.string().trim().max(16, 'too-long').nullable().default(null).transform((v) => (v === '' ? null : v)),
    connection: z.enum(CONNECTION_TYPES, { error: 'required' }),
    /** As typed; the first is the main number of the account at the current provider. */
    numbers: z.array(z.string().trim().min(1, 'required').max(32, 'too-long')).min(1, 'required').max(20, 'too-many'),
    serviceAddress: z.object({ street: text(128), postalCode: text(16), city: text(64) }).strict(),
    holderFirstName: text(64),
    holderLastName: text(64),
    /** A number already on this box (the temporary number) that the ported main number replaces. */
    primaryNumber: text(32),
    /** Keep the temporary number as a virtual number after the port (billed as an additional number). */
    keepTemporary: z.boolean().default(false),
    termsAccepted: z.boolean().default(false),
    /** The account holder's full name typed as the digital signature. */
    signature: z.string().trim().max(128, 'too-long').default(''),
  })
  .strict();

export type PortingForm = z.output<typeof portingFormSchema>;
export type PortingFormInput = z.input<typeof portingFormSchema>;

/** The request as stored: the form with its numbers in E.164 and the signature's record. */
export interface PortingRequestBody extends Omit<PortingForm, 'numbers' | 'primaryNumber' | 'signature'> {
  numbers: string[];
  primaryNumber: string;
  signature: { name: string; signedAt: string; byUser: number | null; digest: string };
}

export const PORTING_STATUSES = ['submitted', 'foc', 'ported', 'test-call', 'completed', 'rejected'] as const;
export type PortingStatus = (typeof PORTING_STATUSES)[number];

export interface PortingEvent {
  status: PortingStatus;
  /** The FOC date (YYYY-MM-DD) for `foc`. */
  date: string | null;
  reason: string | null;
  at: string;
}

export interface PortingRequest {
  id: number;
  body: PortingRequestBody;
  status: PortingStatus;
  focDate: string | null;
  reason: string | null;
  createdBy: number | null;
  createdAt: string;
  updatedAt: string;
  events: PortingEvent[];
}

/** Field errors of a form: path (`serviceAddress.city`, `numbers.1`) → code (`required`, `too-long`...). */
export type FieldErrors = Record<string, string>;

export function parsePortingForm(input: unknown): { ok: true; form: PortingForm } | { ok: false; errors: FieldErrors } {
  const parsed = portingFormSchema.safeParse(input);
  if (parsed.success) return { ok: true, form: parsed.data };
  const errors: FieldErrors = {};
  for (const issue of parsed.error.issues) {
    const key = issue.path.join('.') || 'form';
    if (errors[key] !== undefined) continue;
    errors[key] = issue.code === 'unrecognized_keys' ? 'unknown-field' : issue.message.length <= 16 && /^[a-z-]+$/.test(issue.message) ? issue.message : 'invalid';
  }
  return { ok: false, errors };
}
