/**
 * Sync health (seed 003: failed records are counted and listed with reasons): decisions
 * and write results tallied into in sync / excluded / failing, as HubSpot's Sync Health.
 */
import type { WriteResult } from '../connector.ts';
import type { Decision } from './types.ts';

export interface SyncHealth {
  inSync: number;
  excluded: { id: string; rule: string }[];
  failing: { ref: string; code: string; message: string }[];
}

export function tallyHealth(decisions: readonly Decision[], results: readonly WriteResult[]): SyncHealth {
  const health: SyncHealth = { inSync: 0, excluded: [], failing: [] };
  for (const d of decisions) {
    if (d.kind === 'skip' && d.reason === 'excluded') health.excluded.push({ id: d.hubId ?? d.appId ?? '', rule: d.rule ?? '' });
    else if (d.kind === 'skip' && (d.reason === 'unchanged' || d.reason === 'echo')) health.inSync += 1;
  }
  for (const r of results) {
    if (r.status === 'refused') health.failing.push({ ref: r.ref, code: r.error.code, message: r.error.message });
    else if (r.status === 'missing') health.failing.push({ ref: r.ref, code: 'missing', message: `app record ${r.id} no longer exists` });
    else health.inSync += 1;
  }
  return health;
}
