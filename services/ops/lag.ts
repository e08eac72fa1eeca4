/**
 * Lag per partition of a consumer group, and its status, from samples of end and
 * committed offsets (pure; the sampler feeds it):
 *
 * - `idle`: nothing waits (committed = end). An idle partition with a constant end
 *   offset is never lagging, however long since its last message.
 * - `stalled`: messages wait and the committed offset has not moved for `stallAfterMs`
 *   (or the group has no member to move it).
 * - `lagging`: messages wait, the group moves, and the oldest waiting message is older
 *   than `laggingAfterSeconds`.
 * - `ok`: messages wait briefly and are being consumed.
 */
export type PartitionStatus = 'ok' | 'lagging' | 'stalled' | 'idle';

export interface LagInput {
  committed: bigint | null;
  low: bigint;
  end: bigint;
  /** When the committed offset last changed (or was first seen). */
  committedSince: number;
  /** Age of the message at the committed offset, in seconds (0 when nothing waits). */
  oldestWaitingSeconds: number;
  members: number;
  now: number;
}

export interface LagThresholds { stallAfterMs: number; laggingAfterSeconds: number }

/** Where consumption resumes: the committed offset, or the log's start for a group that never committed (the hub's groups start from the beginning). */
export function position(committed: bigint | null, low: bigint): bigint {
  return committed === null || committed < low ? low : committed;
}

export function lagMessages(i: Pick<LagInput, 'committed' | 'low' | 'end'>): number {
  const d = i.end - position(i.committed, i.low);
  return d > 0n ? Number(d) : 0;
}

export function partitionStatus(i: LagInput, t: LagThresholds): PartitionStatus {
  if (lagMessages(i) === 0) return 'idle';
  if (i.members === 0 || i.now - i.committedSince >= t.stallAfterMs) return 'stalled';
  return i.oldestWaitingSeconds >= t.laggingAfterSeconds ? 'lagging' : 'ok';
}

/** The worst status of a group's partitions, for a one-word summary. */
export function worst(statuses: readonly PartitionStatus[]): PartitionStatus {
  for (const s of ['stalled', 'lagging', 'ok'] as const) if (statuses.includes(s)) return s;
  return 'idle';
}

/** Messages per second between the first and last samples of (time, offset) within `windowMs`; null with fewer than two. */
export function rate(samples: readonly { at: number; value: number }[], windowMs: number, now: number): number | null {
  const inWindow = samples.filter((s) => s.at >= now - windowMs);
  if (inWindow.length < 2) return null;
  const first = inWindow[0]!;
  const last = inWindow[inWindow.length - 1]!;
  const seconds = (last.at - first.at) / 1000;
  return seconds > 0 ? Math.max(0, (last.value - first.value) / seconds) : null;
}
