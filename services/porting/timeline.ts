/**
 * The status timeline of a port: submitted → FOC date → ported → test call → completed, or
 * rejected with the carrier's reason. One table of allowed transitions; every change, from pbxctl
 * today or the cloud sync agent later, goes through `checkTransition`.
 */
import type { PortingStatus } from './request.js';

const NEXT: Record<PortingStatus, readonly PortingStatus[]> = {
  submitted: ['foc', 'rejected'],
  // A carrier may move the FOC date: foc → foc with the new date.
  foc: ['foc', 'ported', 'rejected'],
  ported: ['test-call', 'completed'],
  'test-call': ['completed'],
  completed: [],
  rejected: [],
};

/** The order the UI draws the timeline in. */
export const TIMELINE: readonly PortingStatus[] = ['submitted', 'foc', 'ported', 'test-call', 'completed'];

export interface StatusChange {
  status: PortingStatus;
  /** YYYY-MM-DD, required for `foc`. */
  date?: string | null;
  /** Required for `rejected`. */
  reason?: string | null;
}

/** Null when the change is allowed, else why not (English, for pbxctl and the log). */
export function checkTransition(from: PortingStatus, change: StatusChange): string | null {
  if (!NEXT[from].includes(change.status)) {
    const allowed = NEXT[from];
    return allowed.length === 0 ? `the request is ${from}: its status no longer changes` : `from ${from} the status can go to ${allowed.join(' or ')}, not ${change.status}`;
  }
  if (change.status === 'foc') {
    if (change.date === undefined || change.date === null || !/^\d{4}-\d{2}-\d{2}$/.test(change.date) || Number.isNaN(Date.parse(change.date))) {
      return 'foc needs --date YYYY-MM-DD (the firm order confirmation date)';
    }
  }
  if (change.status === 'rejected' && (change.reason === undefined || change.reason === null || change.reason.trim() === '')) {
    return 'rejected needs --reason (what the carrier said)';
  }
  return null;
}
