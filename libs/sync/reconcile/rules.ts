/**
 * Sync rules (seed 003, "limit which records sync"): by default only contacts with a
 * valid email address sync; a JSON Logic filter per direction narrows further. A record
 * left out is `excluded`, naming the rule.
 */
import type { SyncObject } from '../connector.ts';
import { holds } from '../../rules/index.ts';
import type { Side, SyncRules } from './types.ts';
import { isValidEmail } from './values.ts';

export type RuleVerdict = { included: true } | { included: false; rule: string; detail: string };

/**
 * Whether a record on `from` may sync to the other side. `record` is in hub field names
 * (an app record projected through the mappings); `app` is the app record's raw properties.
 */
export function checkRules(object: SyncObject, from: Side, rules: SyncRules | undefined, record: Readonly<Record<string, unknown>>, now: number, app?: Readonly<Record<string, unknown>>): RuleVerdict {
  const requireEmail = rules?.requireEmail ?? object === 'people';
  if (requireEmail && !isValidEmail(record.email)) {
    return { included: false, rule: 'valid-email', detail: record.email ? `"${String(record.email)}" is not a valid email address` : 'no email address' };
  }
  const filter = from === 'hub' ? rules?.toApp : rules?.fromApp;
  if (filter !== undefined && !holds(filter, from === 'hub' ? { record } : { record, app: app ?? {} }, { now })) {
    return { included: false, rule: from === 'hub' ? 'filter:toApp' : 'filter:fromApp', detail: 'the record does not meet the filter' };
  }
  return { included: true };
}
