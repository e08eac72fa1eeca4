/**
 * Per-field merge of a linked pair (seed 003, "resolve data conflicts"): a field changed
 * on one side since the last sync flows to the other; a field changed on both sides to
 * different values takes the winner's value (default: the app's), except that an empty
 * winner keeps the other side's value. The chosen direction is never overridden: a
 * `to-app` object never writes the hub, a `from-app` one never writes the app.
 */
import type { FieldMapping } from '../connector.ts';
import { mappingKey, type Projection } from './mapping.ts';
import type { Direction, FieldConflict, Side } from './types.ts';
import { isEmpty, sameValue } from './values.ts';

export interface MergeInput {
  mappings: readonly FieldMapping[];
  /** Values at the last sync; a key missing (first sync of a linked pair) counts as changed on both sides. */
  base: Projection;
  hub: Projection;
  app: Projection;
  winner: Side;
  direction: Direction;
}

export interface Merge {
  toApp: Projection;
  toHub: Projection;
  /** The new base: the keys on which both sides agree after the writes. */
  base: Projection;
  conflicts: FieldConflict[];
}

export function mergeFields(i: MergeInput): Merge {
  const out: Merge = { toApp: {}, toHub: {}, base: {}, conflicts: [] };
  for (const m of i.mappings) {
    const k = mappingKey(m);
    const hv = i.hub[k] ?? null;
    const av = i.app[k] ?? null;
    if (sameValue(hv, av)) {
      out.base[k] = hv;
      continue;
    }
    const known = k in i.base;
    const hubChanged = !known || !sameValue(hv, i.base[k]);
    const appChanged = !known || !sameValue(av, i.base[k]);
    let value = hubChanged && !appChanged ? hv : av;
    if (hubChanged && appChanged) {
      const [mine, other] = i.winner === 'app' ? [av, hv] : [hv, av];
      value = isEmpty(mine) ? other : mine;
      out.conflicts.push({ mapping: k, hub: hv, app: av, winner: i.winner, value });
    }
    const dir = m.direction ?? 'both';
    const canApp = i.direction !== 'from-app' && dir !== 'from-app';
    const canHub = i.direction !== 'to-app' && dir !== 'to-app';
    const appWritten = !sameValue(value, av) && canApp;
    const hubWritten = !sameValue(value, hv) && canHub;
    if (appWritten) out.toApp[k] = value;
    if (hubWritten) out.toHub[k] = value;
    const appEnds = appWritten ? value : av;
    const hubEnds = hubWritten ? value : hv;
    if (sameValue(appEnds, hubEnds)) out.base[k] = value;
    else if (known) out.base[k] = i.base[k] ?? null;
  }
  return out;
}
