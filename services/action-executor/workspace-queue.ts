/**
 * At most `limit` runs of one workspace at a time; the rest wait in arrival order.
 * Workspaces do not share a queue, so a busy one never delays another.
 */
export class WorkspaceScheduler<T> {
  private readonly workspaces = new Map<string, { running: number; queue: T[] }>();

  constructor(private readonly limit: number, private readonly start: (item: T) => Promise<void>) {}

  submit(workspaceId: string, item: T): void {
    let w = this.workspaces.get(workspaceId);
    if (!w) { w = { running: 0, queue: [] }; this.workspaces.set(workspaceId, w); }
    w.queue.push(item);
    this.pump(workspaceId, w);
  }

  /** Takes a queued item out (a cancelled run); false when it already started or is unknown. */
  remove(workspaceId: string, item: T): boolean {
    const w = this.workspaces.get(workspaceId);
    const i = w ? w.queue.indexOf(item) : -1;
    if (!w || i < 0) return false;
    w.queue.splice(i, 1);
    return true;
  }

  running(workspaceId: string): number {
    return this.workspaces.get(workspaceId)?.running ?? 0;
  }

  queued(workspaceId: string): number {
    return this.workspaces.get(workspaceId)?.queue.length ?? 0;
  }

  private pump(workspaceId: string, w: { running: number; queue: T[] }): void {
    while (w.running < this.limit && w.queue.length > 0) {
      const item = w.queue.shift()!;
      w.running += 1;
      void this.start(item).finally(() => {
        w.running -= 1;
        if (w.running === 0 && w.queue.length === 0) this.workspaces.delete(workspaceId);
        else this.pump(workspaceId, w);
      });
    }
  }
}
