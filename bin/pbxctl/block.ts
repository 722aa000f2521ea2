/**
 * `pbxctl block list|remove`: the authentication blocks of the access policy, per (source address,
 * extension; `*` = every extension not known at that address). Read and lifted straight in SQLite;
 * the running pbx re-reads blocks every 2 s, so a lifted block ends within that time.
 */
import net from 'node:net';
import type { AuthBlock, Store } from '../../services/store/index.js';
import { Failure, out, positionals, printJson, table, UsageError, withStore, type CommandGroup } from './cli.js';

export const blockCommands: CommandGroup = {
  name: 'block',
  usage: `  block list [--json]      sources blocked after failed authentication (per extension, * = all)
  block remove SOURCE [EXTENSION]
                           lift the block of SOURCE for EXTENSION, or every block of SOURCE`,
  run({ config, json }, [sub, ...rest]) {
    if (sub === 'list') return withStore(config, (store) => blockList(store, rest, json));
    if (sub === 'remove') return withStore(config, (store) => blockRemove(store, rest));
    throw new UsageError(sub ? `unknown block command: ${sub}` : 'block needs a command: list, remove');
  },
};

function publicBlock(block: AuthBlock) {
  return {
    source: block.source,
    extension: block.extension,
    failures: block.failures,
    reason: block.reason,
    blockedUntil: new Date(block.blockedUntil).toISOString(),
    since: new Date(block.createdAt).toISOString(),
  };
}

function blockList(store: Store, args: string[], json: boolean): void {
  positionals(args, [], 'block list');
  const blocks = store.authBlocks.active(Date.now()).map(publicBlock);
  if (json) {
    printJson(blocks);
    return;
  }
  if (blocks.length === 0) {
    out('no blocks');
    return;
  }
  out(table(['SOURCE', 'EXTENSION', 'FAILURES', 'UNTIL', 'REASON'], blocks.map((b) => [b.source, b.extension, String(b.failures), b.blockedUntil, b.reason])));
}

function blockRemove(store: Store, args: string[]): void {
  if (args.length === 0) throw new UsageError('block remove needs a SOURCE');
  const [source, extension] = args.length === 1 ? positionals(args, ['SOURCE'], 'block remove') : positionals(args, ['SOURCE', 'EXTENSION'], 'block remove');
  if (source === undefined || net.isIP(source) === 0) throw new UsageError(`block remove: SOURCE must be an IP address (got ${JSON.stringify(source)})`);
  if (extension !== undefined && !/^(\*|[A-Za-z0-9._+-]{1,64})$/.test(extension)) throw new UsageError(`block remove: bad EXTENSION ${JSON.stringify(extension)}`);
  const removed = store.authBlocks.remove(source, extension);
  if (removed === 0) throw new Failure(`no block for ${source}${extension === undefined ? '' : ` / ${extension}`}`);
  out(`${removed} block${removed === 1 ? '' : 's'} lifted for ${source}${extension === undefined ? '' : ` / ${extension}`}`);
}
