/**
 * The hub's consumer groups and the topics each reads (logical names; the runtime adds
 * the prefix). Ops lists these even before they commit anything, and also any other
 * group under the prefix (a service added later shows up by itself), except private
 * readers (a random suffix: topic followers) and ops' own (`ops.`).
 */
import { topics, type TopicKey } from './topics.ts';

export const consumerGroups: Readonly<Record<string, readonly TopicKey[]>> = {
  'record-projector': ['records'],
  'trigger-matcher': ['records', 'webhooks'],
  'action-executor': ['runs'],
  notifier: ['notifications'],
  'sync-reconciler.router': ['records'],
  'sync-reconciler': ['syncInbound'],
};

const PRIVATE_SUFFIX = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A group name (without the prefix) that is one of the hub's, not a private reader or ops' own. */
export function isHubGroup(name: string): boolean {
  return name.length > 0 && !PRIVATE_SUFFIX.test(name) && !name.startsWith('ops.');
}

/** Logical topic names a known group reads. */
export function groupTopics(group: string): string[] | undefined {
  return consumerGroups[group]?.map((k) => topics[k].name);
}
