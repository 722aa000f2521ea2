/** `pbxctl extension add|list|remove`: written straight to SQLite; the pbx reads extensions at each lookup. */
import { LANGUAGES, type Extension, type Language, type Store } from '../../services/store/index.js';
import { extensionSet, extensionSetOptions } from './number.js';
import { describeUserFeatures, hasUserFeatureOptions, userFeatureOptions, userFeatureUsage, userFeaturesList, userFeaturesSet } from './user-features.js';
import { extensionMoh } from './moh.js';
import { Failure, out, positionals, printJson, readStdin, stringOption, table, UsageError, withStore, type CliValues, type CommandGroup } from './cli.js';

export const extensionCommands: CommandGroup = {
  name: 'extension',
  usage: `  extension add NUMBER --name NAME --secret SECRET|- [--pin PIN] [--language ${LANGUAGES.join('|')}]
                           (--secret - reads the secret from stdin, keeping it out of ps)
  extension list [--json]
  extension remove NUMBER
  extension set NUMBER [--international on|off] [--did NUMBER|none]
                           international/premium calls (off by default); the user's direct number (DID)
  extension set NUMBER --moh CLASS|none   music-on-hold class for the callers this user holds
${userFeatureUsage}`,
  options: {
    name: { type: 'string' },
    secret: { type: 'string' },
    pin: { type: 'string' },
    language: { type: 'string' },
    ...extensionSetOptions,
    ...userFeatureOptions,
    moh: { type: 'string' },
  },
  run({ config, values, json }, [sub, ...rest]) {
    if (sub === 'add') return withStore(config, (store) => extensionAdd(store, rest, values));
    if (sub === 'list') return withStore(config, (store) => extensionList(store, rest, json));
    if (sub === 'remove') return withStore(config, (store) => extensionRemove(store, rest));
    if (sub === 'set') {
      return withStore(config, (store) => {
        const routing = values.international !== undefined || values.did !== undefined;
        if (values.moh !== undefined) {
          // The music-on-hold class first; the other options, if any, as below.
          extensionMoh(store, rest, values, () => undefined);
          if (!routing && !hasUserFeatureOptions(values)) return;
        }
        if (!hasUserFeatureOptions(values)) {
          extensionSet(store, config.country, rest, values, json);
          return;
        }
        // Both kinds in one command: one transaction, so a refused option changes nothing.
        // One transaction (a refused option changes nothing), printed once it is made; with --json as one object.
        const { routed, features } = store.transaction(() => ({
          routed: routing ? extensionSet(store, config.country, rest, values, json, false) : null,
          features: userFeaturesSet(store, config.country, rest, values, json, false),
        }));
        if (json) printJson(routed === null ? features : { ...routed, features });
        else {
          if (routed !== null) out(`extension ${routed.extension}: direct number ${routed.directNumber ?? 'none'}, international and premium calls ${routed.international ? 'allowed' : 'not allowed'}`);
          out(`extension ${features.extension}: ${describeUserFeatures(features)}`);
        }
      });
    }
    if (sub === 'features') return withStore(config, (store) => userFeaturesList(store, rest, json));
    throw new UsageError(sub ? `unknown extension command: ${sub}` : 'extension needs a command: add, list, remove, set, features');
  },
};

async function extensionAdd(store: Store, args: string[], values: CliValues): Promise<void> {
  const [number] = positionals(args, ['NUMBER'], 'extension add');
  const name = stringOption(values, 'name');
  const secretOption = stringOption(values, 'secret');
  const language = stringOption(values, 'language');
  if (name === undefined) throw new UsageError('extension add needs --name');
  if (secretOption === undefined) throw new UsageError('extension add needs --secret');
  if (language !== undefined && !(LANGUAGES as readonly string[]).includes(language)) {
    throw new UsageError(`--language must be one of ${LANGUAGES.join(', ')}`);
  }
  const secret = secretOption === '-' ? await readStdin() : secretOption;
  const added = store.extensions.add({
    number: number as string,
    displayName: name,
    secret,
    voicemailPin: stringOption(values, 'pin') ?? null,
    ...(language !== undefined ? { language: language as Language } : {}),
  });
  out(`extension ${added.number} (${added.displayName}) added`);
}

function extensionList(store: Store, args: string[], json: boolean): void {
  positionals(args, [], 'extension list');
  const extensions = store.extensions.list();
  if (json) {
    // Secrets and PINs stay out of the listing; the web UI shows them to an admin on demand.
    printJson(extensions.map(publicExtension));
    return;
  }
  if (extensions.length === 0) {
    out('no extensions');
    return;
  }
  out(table(['NUMBER', 'NAME', 'LANG', 'VOICEMAIL PIN'], extensions.map((e) => [e.number, e.displayName, e.language, e.voicemailPin ? 'set' : '-'])));
}

function publicExtension(e: Extension): Omit<Extension, 'secret' | 'voicemailPin'> & { voicemailPinSet: boolean } {
  return {
    number: e.number,
    displayName: e.displayName,
    language: e.language,
    voicemailPinSet: e.voicemailPin !== null,
    createdAt: e.createdAt,
    updatedAt: e.updatedAt,
  };
}

function extensionRemove(store: Store, args: string[]): void {
  const [number] = positionals(args, ['NUMBER'], 'extension remove');
  if (!store.extensions.remove(number as string)) throw new Failure(`extension ${number} does not exist`);
  out(`extension ${number} removed`);
}
