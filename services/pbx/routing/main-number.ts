/** The office's main number (a setting): the caller ID of users without a direct number. */
import type { SettingsRepository } from '../../store/types.js';

export const MAIN_NUMBER_SETTING = 'routing.main_number';

export function mainNumber(settings: Pick<SettingsRepository, 'get'>): string | null {
  const value = settings.get<unknown>(MAIN_NUMBER_SETTING, null);
  return typeof value === 'string' ? value : null;
}
