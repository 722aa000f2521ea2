// Where generated prompts live: `services/media/prompts/generated/<lang>/<id>.wav` in the install tree
// (beside package.json), or PBX_PROMPTS_DIR when set (tests, images with a read-only root).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return start;
    dir = up;
  }
}

export function defaultPromptsDir(): string {
  const env = process.env.PBX_PROMPTS_DIR;
  if (env) return path.resolve(env);
  const root = findRoot(path.dirname(fileURLToPath(import.meta.url)));
  return path.join(root, 'services', 'media', 'prompts', 'generated');
}
