/**
 * The section writer of docs/performance.md: every benchmark owns one `## ` section (named by its
 * section's first line) and replaces only that one, keeping the others' sections and their order.
 */
import fs from 'node:fs';
import path from 'node:path';

/** Replace (or append) the `## Name` section that `section` starts with, keeping every other section. */
export function writeSection(file: string, section: string): void {
  const heading = /^## (.+?)\s*$/m.exec(section.split('\n', 1)[0] ?? '');
  if (heading === null) throw new Error('a section starts with its "## Name" line');
  const name = (heading[1] as string).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  let text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Performance\n';
  if (!/^# Performance/m.test(text)) text = `# Performance\n\n${text}`;
  const start = text.search(new RegExp(`^## ${name}\\s*$`, 'm'));
  if (start < 0) {
    text = `${text.trimEnd()}\n\n${section.trimEnd()}\n`;
  } else {
    const rest = text.slice(start + 1);
    const next = rest.search(/^## /m);
    const end = next < 0 ? text.length : start + 1 + next;
    text = `${text.slice(0, start)}${section.trimEnd()}\n${next < 0 ? '' : `\n${text.slice(end)}`}`;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
}
