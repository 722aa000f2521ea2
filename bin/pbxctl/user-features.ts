/**
 * `pbxctl extension set N --forward-... | --call-waiting | --dnd | --hide-caller-id` and
 * `pbxctl extension features [N] [--json]`: the user features of issue 17 (forwarding, call
 * waiting, do not disturb, caller ID blocking), the same store and checks as the feature codes.
 */
import { countryCode } from '../../services/pbx/routing/phone-numbers.js';
import { ForwardTargetError, setUserFeatures } from '../../services/office/user-features.js';
import type { Store } from '../../services/store/index.js';
import { FORWARD_KINDS, type ForwardKind, type UserFeatures, type UserFeaturesPatch } from '../../services/store/user-features-schema.js';
import { Failure, out, positionals, printJson, stringOption, table, UsageError, type CliValues } from './cli.js';

export const userFeatureOptions = {
  'forward-always': { type: 'string' },
  'forward-busy': { type: 'string' },
  'forward-no-answer': { type: 'string' },
  'forward-unreachable': { type: 'string' },
  'no-answer-seconds': { type: 'string' },
  'call-waiting': { type: 'string' },
  dnd: { type: 'string' },
  'hide-caller-id': { type: 'string' },
} as const;

export const userFeatureUsage = `  extension set NUMBER [--forward-always|--forward-busy|--forward-no-answer|--forward-unreachable DEST|none]
                    [--no-answer-seconds 5-120] [--call-waiting on|off] [--dnd on|off] [--hide-caller-id on|off]
                           forwarding (DEST: an extension or a phone number), call waiting, do not disturb,
                           caller ID hidden on outside calls by default
  extension features [NUMBER] [--json]`;

/** Whether `values` names any user feature option (the routing options of `extension set` are separate). */
export function hasUserFeatureOptions(values: CliValues): boolean {
  return Object.keys(userFeatureOptions).some((name) => values[name] !== undefined);
}

function onOff(values: CliValues, name: string): boolean | undefined {
  const value = stringOption(values, name);
  if (value === undefined) return undefined;
  if (value !== 'on' && value !== 'off') throw new UsageError(`--${name} must be on or off`);
  return value === 'on';
}

export function userFeaturesSet(store: Store, countryText: string, args: string[], values: CliValues, json: boolean, print = true): UserFeatures {
  const country = countryCode(countryText);
  const [extension] = positionals(args, ['NUMBER'], 'extension set') as [string];
  if (store.extensions.get(extension) === null) throw new Failure(`extension ${extension} does not exist`);
  const forward: Partial<Record<ForwardKind, string | null>> = {};
  for (const kind of FORWARD_KINDS) {
    const target = stringOption(values, `forward-${kind}`);
    if (target === undefined) continue;
    forward[kind] = target === 'none' ? null : target;
  }
  const seconds = stringOption(values, 'no-answer-seconds');
  if (seconds !== undefined && !/^\d{1,3}$/.test(seconds)) throw new UsageError('--no-answer-seconds must be a number of seconds (5-120)');
  const callWaiting = onOff(values, 'call-waiting');
  const doNotDisturb = onOff(values, 'dnd');
  const hideCallerId = onOff(values, 'hide-caller-id');
  const patch: UserFeaturesPatch = {
    ...(Object.keys(forward).length > 0 && { forward }),
    ...(seconds !== undefined && { noAnswerSeconds: Number(seconds) }),
    ...(callWaiting !== undefined && { callWaiting }),
    ...(doNotDisturb !== undefined && { doNotDisturb }),
    ...(hideCallerId !== undefined && { hideCallerId }),
  };
  let result: UserFeatures;
  try {
    result = setUserFeatures(store, country, extension, patch);
  } catch (error) {
    if (error instanceof ForwardTargetError) throw new UsageError(`--forward-${error.kind}: ${error.message}`);
    throw error;
  }
  if (!print) return result;
  if (json) printJson(result);
  else out(`extension ${extension}: ${describeUserFeatures(result)}`);
  return result;
}

export function userFeaturesList(store: Store, args: string[], json: boolean): void {
  const [extension] = args.length > 0 ? (positionals(args, ['NUMBER'], 'extension features') as [string]) : [undefined];
  let list: UserFeatures[];
  if (extension !== undefined) {
    const one = store.userFeatures.get(extension);
    if (one === null) throw new Failure(`extension ${extension} does not exist`);
    list = [one];
  } else {
    list = store.userFeatures.list();
  }
  if (json) {
    printJson(extension !== undefined ? list[0] : list);
    return;
  }
  if (list.length === 0) {
    out('no extensions');
    return;
  }
  const show = (v: string | null): string => v ?? '-';
  out(
    table(
      ['NUMBER', 'ALWAYS', 'BUSY', 'NO ANSWER', 'RING', 'UNREACHABLE', 'WAITING', 'DND', 'CALLER ID'],
      list.map((f) => [f.extension, show(f.forward.always), show(f.forward.busy), show(f.forward['no-answer']), `${f.noAnswerSeconds} s`, show(f.forward.unreachable), f.callWaiting ? 'on' : 'off', f.doNotDisturb ? 'on' : 'off', f.hideCallerId ? 'hidden' : 'shown']),
    ),
  );
}

export function describeUserFeatures(f: UserFeatures): string {
  const forwards = FORWARD_KINDS.filter((k) => f.forward[k] !== null).map((k) => `${k} → ${f.forward[k]}${k === 'no-answer' ? ` after ${f.noAnswerSeconds} s` : ''}`);
  return [
    `forwarding ${forwards.length > 0 ? forwards.join(', ') : 'off'}`,
    `call waiting ${f.callWaiting ? 'on' : 'off'}`,
    `do not disturb ${f.doNotDisturb ? 'on' : 'off'}`,
    `caller ID ${f.hideCallerId ? 'hidden' : 'shown'} on outside calls`,
  ].join('; ');
}
