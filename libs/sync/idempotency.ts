import { createHash } from 'node:crypto';

/**
 * An Idempotency-Key derived, never remembered (DESIGN habit 6): the same write of the
 * same record version on the same connection always carries the same key, so a retry
 * (or a replay of the decision) is the same request; two connections never share one.
 */
export function idempotencyKey(connectionId: string, op: 'create' | 'update', object: string, ref: string, version: string | number): string {
  const digest = createHash('sha256').update(JSON.stringify([connectionId, op, object, ref, String(version)])).digest('base64url');
  return `hub-sync-${digest.slice(0, 40)}`;
}
