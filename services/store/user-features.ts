/** The user features repository over `user_features` (migration 8, `user-features-schema.ts`). */
import type { Db } from './db.js';
import { translateSqliteError } from './sqlite-errors.js';
import { StoreError } from './types.js';
import { DEFAULT_NO_ANSWER_SECONDS, FORWARD_KINDS, userFeaturesPatchSchema, type UserFeatures, type UserFeaturesRepository } from './user-features-schema.js';
import { parseOrThrow } from './validation.js';

interface Row {
  extension: string;
  forward_always: string | null;
  forward_busy: string | null;
  forward_no_answer: string | null;
  forward_unreachable: string | null;
  no_answer_seconds: number | null;
  call_waiting: number | null;
  do_not_disturb: number | null;
  hide_caller_id: number | null;
}

function toFeatures(row: Row): UserFeatures {
  return {
    extension: row.extension,
    forward: { always: row.forward_always, busy: row.forward_busy, 'no-answer': row.forward_no_answer, unreachable: row.forward_unreachable },
    noAnswerSeconds: row.no_answer_seconds ?? DEFAULT_NO_ANSWER_SECONDS,
    callWaiting: (row.call_waiting ?? 1) === 1,
    doNotDisturb: row.do_not_disturb === 1,
    hideCallerId: row.hide_caller_id === 1,
  };
}

const SELECT = `SELECT e.number AS extension, f.forward_always, f.forward_busy, f.forward_no_answer, f.forward_unreachable,
  f.no_answer_seconds, f.call_waiting, f.do_not_disturb, f.hide_caller_id
  FROM extensions e LEFT JOIN user_features f ON f.extension = e.number`;

export function createUserFeaturesRepository(db: Db): UserFeaturesRepository {
  const selectOne = db.prepare<[string], Row>(`${SELECT} WHERE e.number = ?`);
  const selectAll = db.prepare<[], Row>(`${SELECT} ORDER BY length(e.number), e.number`);
  const upsert = db.prepare(
    `INSERT INTO user_features (extension, forward_always, forward_busy, forward_no_answer, forward_unreachable, no_answer_seconds, call_waiting, do_not_disturb, hide_caller_id, updated_at)
     VALUES (@extension, @always, @busy, @noAnswer, @unreachable, @noAnswerSeconds, @callWaiting, @dnd, @hide, @now)
     ON CONFLICT (extension) DO UPDATE SET forward_always = excluded.forward_always, forward_busy = excluded.forward_busy,
       forward_no_answer = excluded.forward_no_answer, forward_unreachable = excluded.forward_unreachable,
       no_answer_seconds = excluded.no_answer_seconds, call_waiting = excluded.call_waiting,
       do_not_disturb = excluded.do_not_disturb, hide_caller_id = excluded.hide_caller_id, updated_at = excluded.updated_at`,
  );
  const get = (extension: string): UserFeatures | null => {
    const row = selectOne.get(extension);
    return row === undefined ? null : toFeatures(row);
  };
  return {
    get,
    list: () => selectAll.all().map(toFeatures),
    set(extension, patch) {
      const valid = parseOrThrow(userFeaturesPatchSchema, patch);
      const apply = db.transaction((): UserFeatures => {
        const current = get(extension);
        if (current === null) throw new StoreError('not-found', `extension ${extension} does not exist`);
        const forward = { ...current.forward };
        for (const kind of FORWARD_KINDS) {
          const target = valid.forward?.[kind];
          if (target !== undefined) forward[kind] = target;
        }
        // A forward to oneself is a loop from the first ring: refused here, caught at call time for longer loops.
        for (const kind of FORWARD_KINDS) {
          if (forward[kind] === extension) throw new StoreError('invalid', `extension ${extension} cannot forward to itself (${kind})`);
        }
        const next: UserFeatures = {
          extension,
          forward,
          noAnswerSeconds: valid.noAnswerSeconds ?? current.noAnswerSeconds,
          callWaiting: valid.callWaiting ?? current.callWaiting,
          doNotDisturb: valid.doNotDisturb ?? current.doNotDisturb,
          hideCallerId: valid.hideCallerId ?? current.hideCallerId,
        };
        try {
          upsert.run({
            extension,
            always: forward.always,
            busy: forward.busy,
            noAnswer: forward['no-answer'],
            unreachable: forward.unreachable,
            noAnswerSeconds: next.noAnswerSeconds,
            callWaiting: next.callWaiting ? 1 : 0,
            dnd: next.doNotDisturb ? 1 : 0,
            hide: next.hideCallerId ? 1 : 0,
            now: new Date().toISOString(),
          });
        } catch (error) {
          translateSqliteError(error, { conflict: 'user features already stored', reference: `extension ${extension} does not exist` });
        }
        return next;
      });
      return apply.immediate();
    },
  };
}
