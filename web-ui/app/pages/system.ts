/**
 * The box itself: firmware upload (kept for the firmware update, not flashed) and configuration
 * restore from a backup file (checked by the box, applied when the phone system restarts).
 */
import { api, upload } from '../api.js';
import { h, table } from '../dom.js';
import { dateTime, fileSize, t } from '../i18n.js';
import type { Page } from '../main.js';
import { actionButton, notice, uploadForm } from '../ui.js';

async function firmware(view: HTMLElement, ctx: Parameters<Page['render']>[1]): Promise<void> {
  type Image = { name: string; bytes: number; sha256: string; uploadedAt: string; uploadedBy: string };
  const { images, maxBytes } = await api<{ images: Image[]; maxBytes: number }>('GET', '/firmware');
  view.append(
    h('p', { class: 'help' }, t('firmware.explain', { max: fileSize(maxBytes) })),
    table([t('firmware.file'), t('firmware.size'), 'SHA-256', t('firmware.uploaded'), ''], images, (i) => [
      i.name,
      fileSize(i.bytes),
      h('code', { title: i.sha256, class: 'hash' }, `${i.sha256.slice(0, 16)}…`),
      `${dateTime(i.uploadedAt)} (${i.uploadedBy})`,
      actionButton(t('common.remove'), async () => {
        await api('DELETE', `/firmware/${i.sha256}`);
        ctx.refresh();
      }, t('firmware.confirmRemove', { name: i.name })),
    ], t('firmware.none')),
    h('h2', {}, t('firmware.upload')),
    uploadForm({
      id: 'firmware-form',
      accept: '',
      label: t('firmware.file'),
      button: t('firmware.send'),
      send: async (file) => {
        await upload('/firmware', file);
        ctx.refresh();
      },
    }),
  );
}

export const FIRMWARE_PAGE: Page = { path: '/admin/firmware', title: 'nav.firmware', render: firmware };

/** The restore part of the Backup page. */
export async function renderRestore(view: HTMLElement): Promise<void> {
  type Staged = { name: string; schemaVersion: number; extensions: number; users: number; stagedAt: string; sha256: string };
  const { staged } = await api<{ staged: Staged | null }>('GET', '/restore');
  const status = h('div', { id: 'restore-status' });
  const showStaged = (s: Staged | null): void => {
    status.replaceChildren(
      s === null
        ? h('p', { class: 'empty' }, t('restore.nothingStaged'))
        : h(
            'div',
            { class: 'card' },
            h('p', { class: 'warn' }, t('restore.staged', { name: s.name, when: dateTime(s.stagedAt) })),
            h('p', {}, t('restore.contents', { extensions: s.extensions, users: s.users, version: s.schemaVersion })),
            h('p', {}, t('restore.next')),
            actionButton(t('restore.cancel'), async () => {
              await api('DELETE', '/restore');
              showStaged(null);
            }),
          ),
    );
  };
  showStaged(staged);
  view.append(
    h('h2', {}, t('restore.title')),
    h('p', { class: 'help' }, t('restore.explain')),
    status,
    uploadForm({
      id: 'restore-form',
      accept: '.sqlite,.db,application/octet-stream',
      label: t('restore.file'),
      button: t('restore.send'),
      send: async (file, el) => {
        const res = await upload<{ staged: Staged }>('/restore', file);
        showStaged(res.staged);
        notice(el, t('restore.done'));
      },
    }),
  );
}
