/**
 * The runs this executor holds: admitted (queued under its workspace's limit, or
 * running), each with the partition it came from and a promise of when its message is
 * done. Runs of a partition that moved to another executor are abandoned: their new
 * owner takes them up, and this executor writes nothing more for them.
 */
import type { WorkDone } from '../../libs/kafka/consumer.ts';
import type { Run } from '../../libs/store/runs.ts';
import { sleep } from '../../libs/time/sleep.ts';
import { WorkspaceScheduler } from './workspace-queue.ts';
import type { RunProjection } from './projection.ts';

/** How a run's message ended: done, or refused by hub.runs for good (the message is parked with the reason). */
export type RunDone = WorkDone;

/** The run was handed over (its partition moved) or the executor is stopping: nothing more is written for it. */
export class Abandoned extends Error {}

export interface ActiveRun {
  /** The run's current state (replaced on every transition: run-state.ts is pure). */
  run: Run;
  /** The partition it came from. */
  source: string;
  controller: AbortController;
  abandoned: boolean;
  /** The run's version could not be found: it fails without running. */
  definitionMissing?: boolean;
  done: Promise<RunDone>;
  finish(outcome: RunDone): void;
}

export class ActiveRuns {
  private readonly active = new Map<string, ActiveRun>();
  private readonly scheduler: WorkspaceScheduler<ActiveRun>;

  constructor(limit: number, private readonly projection: RunProjection, execute: (ar: ActiveRun) => Promise<void>) {
    this.scheduler = new WorkspaceScheduler<ActiveRun>(limit, execute);
  }

  /** Takes a run on: queued under its workspace's limit, projected soon. */
  admit(run: Run, source: string, definitionMissing = false): ActiveRun {
    let finish!: (outcome: RunDone) => void;
    const done = new Promise<RunDone>((resolve) => { finish = resolve; });
    const ar: ActiveRun = { run, source, controller: new AbortController(), abandoned: false, done, finish, ...(definitionMissing ? { definitionMissing } : {}) };
    this.active.set(run.runId, ar);
    this.projection.mark(run);
    this.scheduler.submit(run.workspaceId, ar);
    return ar;
  }

  get(runId: string): ActiveRun | undefined {
    return this.active.get(runId);
  }

  /** The run ended or was handed over. */
  release(ar: ActiveRun): void {
    if (this.active.get(ar.run.runId) === ar) this.active.delete(ar.run.runId);
  }

  /** Takes a run that has not started out of its queue; false when it already started. */
  unqueue(ar: ActiveRun): boolean {
    return this.scheduler.remove(ar.run.workspaceId, ar);
  }

  /** Stops caring about the runs of these partitions (moved to another executor). */
  abandon(sources: ReadonlySet<string>): void {
    for (const ar of this.active.values()) {
      if (!sources.has(ar.source)) continue;
      this.handOver(ar);
      this.scheduler.remove(ar.run.workspaceId, ar);
      this.active.delete(ar.run.runId);
    }
  }

  /** Stopping: every run is handed over (to this executor's next start, or another); waits a while for them to let go. */
  async abandonAll(waitMs: number): Promise<void> {
    for (const ar of this.active.values()) this.handOver(ar);
    const deadline = Date.now() + waitMs;
    while (this.active.size > 0 && Date.now() < deadline) await sleep(20);
  }

  get size(): number {
    return this.active.size;
  }

  running(workspaceId: string): number {
    return this.scheduler.running(workspaceId);
  }

  queued(workspaceId: string): number {
    return this.scheduler.queued(workspaceId);
  }

  private handOver(ar: ActiveRun): void {
    ar.abandoned = true;
    ar.controller.abort();
  }
}
