/**
 * The lifecycle of a sync connection (DESIGN habit 5): named states and the transitions
 * allowed between them, in one table that the api (what users ask for) and the reconciler
 * (what the sync reports) both read. Every transition is an event: the api's on
 * `sync.connections`, the reconciler's (`phase`) on `sync.events`.
 *
 * | from          | action / report          | to            | by         |
 * |---------------|--------------------------|---------------|------------|
 * | draft         | activate                 | initial-sync  | api        |
 * | failed        | activate                 | initial-sync  | api        |
 * | initial-sync  | every object listed, matched and created | running | reconciler |
 * | initial-sync  | credentials refused      | failed        | reconciler |
 * | running       | credentials refused      | failed        | reconciler |
 * | initial-sync  | pause                    | paused        | api        |
 * | running       | pause                    | paused        | api        |
 * | paused        | resume                   | running (initial-sync if it had not finished) | api |
 * | any           | delete                   | (gone: links forgotten, records stay) | api |
 */
export const connectionStatuses = ['draft', 'initial-sync', 'running', 'paused', 'failed'] as const;
export type ConnectionStatus = (typeof connectionStatuses)[number];

/** What a user asks for; the api keeps it on the connection and publishes it. */
export type WantedState = 'draft' | 'active' | 'paused' | 'deleted';

export type UserAction = 'activate' | 'pause' | 'resume' | 'delete';

export const transitions: Readonly<Record<UserAction, { from: readonly ConnectionStatus[]; wanted: WantedState }>> = {
  activate: { from: ['draft', 'failed'], wanted: 'active' },
  pause: { from: ['initial-sync', 'running'], wanted: 'paused' },
  resume: { from: ['paused'], wanted: 'active' },
  delete: { from: connectionStatuses, wanted: 'deleted' },
};

export function allowed(action: UserAction, status: ConnectionStatus): boolean {
  return transitions[action].from.includes(status);
}

/** Where one object of an active connection stands, as the reconciler records it. */
export type ObjectPhase = 'initial-sync' | 'running' | 'failed';

/**
 * The status shown for a connection: the user's wanted state, and while active what the
 * reconciler reports for the enabled objects (any failed → failed; any still in initial
 * sync → initial-sync; else running).
 */
export function statusOf(wanted: WantedState, phases: readonly (ObjectPhase | undefined)[]): ConnectionStatus {
  if (wanted === 'draft' || wanted === 'deleted') return 'draft';
  if (wanted === 'paused') return 'paused';
  if (phases.some((p) => p === 'failed')) return 'failed';
  if (phases.some((p) => p === undefined || p === 'initial-sync')) return 'initial-sync';
  return 'running';
}
