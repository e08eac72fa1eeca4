/**
 * Which offset of a partition may be committed when messages finish out of order
 * (many in flight at once): everything before the oldest unfinished message. After a
 * crash the group restarts there, so unfinished work is picked up again.
 */
export class PartitionOffsets {
  /** Offsets begun, oldest first, with whether each is finished. */
  private readonly pending: { offset: bigint; done: boolean }[] = [];
  private readonly byOffset = new Map<bigint, { offset: bigint; done: boolean }>();
  private next: bigint | null = null;

  begin(offset: string): void {
    const entry = { offset: BigInt(offset), done: false };
    this.pending.push(entry);
    this.byOffset.set(entry.offset, entry);
  }

  end(offset: string): void {
    const entry = this.byOffset.get(BigInt(offset));
    if (entry) entry.done = true;
    while (this.pending.length > 0 && this.pending[0]!.done) {
      const head = this.pending.shift()!;
      this.byOffset.delete(head.offset);
      this.next = head.offset + 1n;
    }
  }

  /** A message needing no work: finished as soon as seen. */
  skip(offset: string): void {
    this.begin(offset);
    this.end(offset);
  }

  /** The offset to commit (the next one to read after a restart), or null when nothing finished yet. */
  committable(): string | null {
    if (this.pending.length > 0) return String(this.pending[0]!.offset);
    return this.next === null ? null : String(this.next);
  }

  get inFlight(): number {
    return this.pending.length;
  }
}
