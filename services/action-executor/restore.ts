/**
 * Restore: a partition read again after an assignment (a crash, a rebalance) is folded
 * before anything is acted on. Each run's state starts from the projection (or its
 * request) and folds its events with the same reducer the executor applies live;
 * commands read meanwhile are handled once folding is over. Unfinished runs are then
 * admitted and resume after their last recorded step.
 */
import type { RunEvent } from '../../libs/kafka/events.ts';
import type { Logger } from '../../libs/log/index.ts';
import type { Run, RunStore } from '../../libs/store/runs.ts';
import { isTerminal } from '../../libs/contracts/run.ts';
import type { DefinitionSource } from '../../libs/workflow/versions.ts';
import { applyRunEvent } from './run-state.ts';
import type { ActiveRuns, RunDone } from './active-runs.ts';
import { runOfRequest, type Handled } from './commands.ts';
import type { RunProjection } from './projection.ts';

export interface Restore {
  /** Folds one event read again from hub.runs (in order). */
  fold(event: RunEvent, offset: string): Promise<void>;
  /** Takes up what the fold found: unfinished runs are admitted; returns, per offset to hold, when it is done. */
  finish(): Promise<Map<string, Promise<RunDone>>>;
}

export interface RestoreDeps {
  runs: Pick<RunStore, 'get'>;
  definitions: DefinitionSource;
  projection: RunProjection;
  active: ActiveRuns;
  handle(e: RunEvent, source: string): Promise<Handled>;
  log: Logger;
  now(): number;
}

export function createRestore(d: RestoreDeps, source: string): Restore {
  const runs = new Map<string, { run: Run; firstOffset: string; definitionMissing: boolean }>();
  const commands: { event: RunEvent; offset: string }[] = [];
  return {
    async fold(e, offset) {
      if (e.type === 'run.cancel-requested' || e.type === 'run.retry-requested') { commands.push({ event: e, offset }); return; }
      // A resumed waiting step asks again, and gets its result again.
      if (e.type === 'step.result') return;
      let entry = runs.get(e.runId);
      if (!entry) {
        // Still held here (the partition was kept through a rebalance): its first offset waits for
        // the run to be done, or a commit would pass a run that has not run yet (and a crash lose it).
        const held = d.active.get(e.runId);
        if (held) { runs.set(e.runId, { run: held.run, firstOffset: offset, definitionMissing: false }); return; }
        const stored = await d.runs.get(e.runId);
        const fresh = !stored && e.type === 'run.requested' ? await runOfRequest(e, d.definitions, d.now()) : null;
        const run = stored ?? fresh?.run;
        if (!run) return;
        entry = { run, firstOffset: offset, definitionMissing: fresh?.definitionMissing ?? false };
        runs.set(e.runId, entry);
      }
      entry.run = applyRunEvent(entry.run, e);
    },
    async finish() {
      const holds = new Map<string, Promise<RunDone>>();
      let resumed = 0;
      for (const { run, firstOffset, definitionMissing } of runs.values()) {
        const ar = d.active.get(run.runId);
        if (ar) holds.set(firstOffset, ar.done);
        else if (isTerminal(run.status)) holds.set(firstOffset, d.projection.saved(run).then(() => ({})));
        else { holds.set(firstOffset, d.active.admit(run, source, definitionMissing).done); resumed += 1; }
      }
      for (const c of commands) holds.set(c.offset, (await d.handle(c.event, source)).done);
      if (runs.size > 0) d.log.info({ partition: source, runs: runs.size, resumed }, 'restored runs from hub.runs');
      return holds;
    },
  };
}
