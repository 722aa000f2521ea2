/** Conference rooms as pbxctl and the web UI edit them: the rooms that exist are 8000-8099 (the dial plan's range). */
import { StoreError, type Store } from '../store/types.js';

export const CONFERENCE_ROOMS = /^80\d\d$/;

/** Sets or clears (null) a room's PIN; the store checks the PIN itself (3-10 digits). */
export function setConferencePin(store: Pick<Store, 'routing'>, room: string, pin: string | null): void {
  if (!CONFERENCE_ROOMS.test(room)) throw new StoreError('invalid', `conference rooms are 8000-8099 (got ${room})`);
  store.routing.conferenceRooms.setPin(room, pin);
}
