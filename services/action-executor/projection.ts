/**
 * Write-behind of the runs projection. Every transition is first an event on
 * hub.runs (the record of truth, acks=all); the projection follows within a flush
 * interval, one write per run however many steps it took meanwhile: on FerretDB a
 * write costs about as much as a short run's steps, so this is most of the
 * executor's throughput. A run's message is committed only after its final state
 * was written (`saved`), and a restarted executor rebuilds unflushed state from
 * hub.runs (restore.ts).
 */
import type { Logger } from '../../libs/log/index.ts';
import type { Run, RunStore } from '../../libs/store/runs.ts';
import { errorMessage } from '../../libs/errors/index.ts';

export interface RunProjection {
  /** The run's current state is to be written (soon). */
  mark(run: Run): void;
  /** Marks the run and resolves once a write of its state as of now has succeeded. */
  saved(run: Run): Promise<void>;
  /** Writes everything marked, now. */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

export function createRunProjection(store: Pick<RunStore, 'put'>, log: Logger, options: { intervalMs?: number; concurrency?: number } = {}): RunProjection {
  const intervalMs = options.intervalMs ?? 50;
  const concurrency = options.concurrency ?? 16;
  const dirty = new Map<string, Run>();
  const waiting = new Map<string, (() => void)[]>();
  let flushing: Promise<void> | null = null;
  let stopped = false;

  async function writeAll(runs: Run[]): Promise<Run[]> {
    const failed: Run[] = [];
    for (let i = 0; i < runs.length; i += concurrency) {
      await Promise.all(runs.slice(i, i + concurrency).map((run) => store.put(run).catch((err: unknown) => {
        failed.push(run);
        log.warn({ runId: run.runId, err: errorMessage(err) }, 'writing a run to the projection failed; retrying');
      })));
    }
    return failed;
  }

  async function flushOnce(): Promise<void> {
    if (dirty.size === 0) return;
    const batch = [...dirty.values()];
    dirty.clear();
    // Every run's message waits on this flush: one that hangs is said, not silent.
    const slow = setTimeout(() => log.warn({ runs: batch.length }, 'writing runs to the projection has taken over 30 s; the runs wait for it'), 30_000);
    const waiters = batch.map((run) => { const w = waiting.get(run.runId) ?? []; waiting.delete(run.runId); return [run.runId, w] as const; });
    const failed = new Set((await writeAll(batch).finally(() => clearTimeout(slow))).map((r) => r.runId));
    for (const [runId, w] of waiters) {
      if (failed.has(runId)) {
        const run = batch.find((r) => r.runId === runId)!;
        if (!dirty.has(runId)) dirty.set(runId, run);
        waiting.set(runId, [...w, ...(waiting.get(runId) ?? [])]);
      } else {
        w.forEach((resolve) => resolve());
      }
    }
  }

  function flush(): Promise<void> {
    flushing ??= flushOnce().finally(() => { flushing = null; });
    return flushing;
  }

  const timer = setInterval(() => { if (!flushing && dirty.size > 0) void flush(); }, intervalMs);

  return {
    mark(run) {
      dirty.set(run.runId, run);
    },
    saved(run) {
      if (stopped) return Promise.reject(new Error('projection stopped'));
      dirty.set(run.runId, run);
      return new Promise<void>((resolve) => {
        const w = waiting.get(run.runId) ?? [];
        w.push(resolve);
        waiting.set(run.runId, w);
      });
    },
    flush,
    async stop() {
      clearInterval(timer);
      if (flushing) await flushing;
      await flushOnce();
      stopped = true;
    },
  };
}
