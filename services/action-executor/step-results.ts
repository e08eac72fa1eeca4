/**
 * Where waiting steps get their results (an email's delivery, reported by the notifier
 * on hub.runs as `step.result`). A result may arrive after the step asked (the step
 * waits; aborting its signal ends the wait) or before (a resumed step asks again, or
 * the notifier was quicker than the step's record): those are kept for `keepMs`.
 */
import type { StepResult } from '../../libs/workflow/interpreter.ts';

export class StepResultMailbox {
  private readonly waiting = new Map<string, (result: StepResult) => void>();
  /** Results that arrived while nothing waited, with when they arrived. */
  private readonly early = new Map<string, { result: StepResult; at: number }>();

  constructor(private readonly now: () => number = Date.now, private readonly keepMs = 60_000) {}

  deliver(resultId: string, result: StepResult): void {
    const waiter = this.waiting.get(resultId);
    if (waiter) { waiter(result); return; }
    const now = this.now();
    for (const [k, v] of this.early) if (now - v.at > this.keepMs) this.early.delete(k);
    this.early.set(resultId, { result, at: now });
  }

  wait(resultId: string, signal: AbortSignal): Promise<StepResult> {
    const ready = this.early.get(resultId);
    if (ready) { this.early.delete(resultId); return Promise.resolve(ready.result); }
    return new Promise<StepResult>((resolve, reject) => {
      const onAbort = () => { this.waiting.delete(resultId); reject(signal.reason instanceof Error ? signal.reason : new Error('aborted')); };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.set(resultId, (r) => { signal.removeEventListener('abort', onAbort); this.waiting.delete(resultId); resolve(r); });
    });
  }

  /** Steps waiting, and results kept for a step still to ask. */
  get pending(): { waiting: number; early: number } {
    return { waiting: this.waiting.size, early: this.early.size };
  }
}
