/**
 * A user's own call features (issue 17 items 3, 5, 6, 7): call forwarding (always, busy, no answer
 * with its ring time, unreachable), call waiting, do not disturb and caller ID blocking by default.
 * Migration 8; the repository is `user-features.ts`. A forward target is what the user would dial
 * (an extension or an outside number, as typed), checked again at each call: the permission to
 * call abroad may change after the forward was set.
 */
import { z } from 'zod';
import type { Migration } from './migrations.js';

export const USER_FEATURES_MIGRATION: Migration = {
  version: 8,
  name: 'user features: forwarding, call waiting, do not disturb, caller ID blocking',
  up(db) {
    db.exec(`
      CREATE TABLE user_features (
        extension           TEXT PRIMARY KEY REFERENCES extensions(number) ON DELETE CASCADE,
        forward_always      TEXT,
        forward_busy        TEXT,
        forward_no_answer   TEXT,
        forward_unreachable TEXT,
        no_answer_seconds   INTEGER NOT NULL DEFAULT 20 CHECK (no_answer_seconds BETWEEN 5 AND 120),
        call_waiting        INTEGER NOT NULL DEFAULT 1 CHECK (call_waiting IN (0,1)),
        do_not_disturb      INTEGER NOT NULL DEFAULT 0 CHECK (do_not_disturb IN (0,1)),
        hide_caller_id      INTEGER NOT NULL DEFAULT 0 CHECK (hide_caller_id IN (0,1)),
        updated_at          TEXT NOT NULL
      );
    `);
  },
};

export const FORWARD_KINDS = ['always', 'busy', 'no-answer', 'unreachable'] as const;
export type ForwardKind = (typeof FORWARD_KINDS)[number];

/** Where one kind of forward goes: what the user would dial, null for off. */
export type ForwardTargets = Record<ForwardKind, string | null>;

export interface UserFeatures {
  extension: string;
  forward: ForwardTargets;
  /** How long the phones ring before a no-answer forward (5–120 s). */
  noAnswerSeconds: number;
  /** A second call while in a call rings the phones (true), or the user is busy (false). */
  callWaiting: boolean;
  doNotDisturb: boolean;
  /** Outside calls go out anonymous unless the user dials *82 first. */
  hideCallerId: boolean;
}

export const DEFAULT_NO_ANSWER_SECONDS = 20;

/** What a user dials: digits with an optional leading + (an extension, a national or an E.164 number). */
export const forwardTarget = z.string().regex(/^\+?\d{2,20}$/, 'forward target must be an extension or a phone number (digits, optional leading +)');

export const userFeaturesPatchSchema = z
  .object({
    forward: z
      .object({
        always: forwardTarget.nullable().optional(),
        busy: forwardTarget.nullable().optional(),
        'no-answer': forwardTarget.nullable().optional(),
        unreachable: forwardTarget.nullable().optional(),
      })
      .strict()
      .optional(),
    noAnswerSeconds: z.number().int('no-answer seconds must be a whole number').min(5, 'no-answer seconds must be 5 to 120').max(120, 'no-answer seconds must be 5 to 120').optional(),
    callWaiting: z.boolean().optional(),
    doNotDisturb: z.boolean().optional(),
    hideCallerId: z.boolean().optional(),
  })
  .strict();

export type UserFeaturesPatch = z.infer<typeof userFeaturesPatchSchema>;

export interface UserFeaturesRepository {
  /** The user's features, the defaults when none are stored; null when the extension does not exist. */
  get(extension: string): UserFeatures | null;
  /** Every extension's features, in extension order. */
  list(): UserFeatures[];
  /** Throws StoreError('not-found') for an unknown extension, ('invalid') for a bad field or a forward to itself. */
  set(extension: string, patch: UserFeaturesPatch): UserFeatures;
}
