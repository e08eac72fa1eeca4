/**
 * Associations (seed 003): kept when the associated object syncs too (contacts without a
 * company sync carry no company); with several companies only the primary one syncs;
 * invoices associate with contacts only. On the hub an association is a field of the
 * from-record (`companyId`, `personId`); in the app it is the app's own association.
 */
import type { Association, AssociationKind, SyncObject } from '../connector.ts';
import type { Decision, Side, SyncSettings } from './types.ts';

/** Each kind: its two hub objects and the hub field on the from-record that holds the target. */
export const associationKinds: Readonly<Record<AssociationKind, { from: SyncObject; to: SyncObject; hubField: string }>> = {
  'person-company': { from: 'people', to: 'companies', hubField: 'companyId' },
  'opportunity-company': { from: 'opportunities', to: 'companies', hubField: 'companyId' },
  'opportunity-person': { from: 'opportunities', to: 'people', hubField: 'personId' },
  'invoice-person': { from: 'invoices', to: 'people', hubField: 'personId' },
  'note-person': { from: 'notes', to: 'people', hubField: 'personId' },
  'task-person': { from: 'tasks', to: 'people', hubField: 'personId' },
};

/** The association kind between two hub objects, if they may sync one (invoice ↔ company may not). */
export function associationKindOf(from: SyncObject, to: SyncObject): AssociationKind | undefined {
  return (Object.entries(associationKinds) as [AssociationKind, { from: SyncObject; to: SyncObject }][]).find(([, k]) => k.from === from && k.to === to)?.[0];
}

/** The one target that syncs: the primary, or the only association when none is marked. */
export function primaryTarget(associations: readonly Association[]): string | null {
  const primary = associations.filter((a) => a.primary);
  if (primary.length > 0) return primary[0]!.toId;
  return associations.length === 1 ? associations[0]!.toId : null;
}

export interface AssociationInput {
  settings: SyncSettings;
  kind: AssociationKind;
  changed: Side;
  fromHubId: string;
  fromAppId: string;
  /** The hub from-record's target (its `companyId`, `personId`), or null. */
  hubTarget: string | null;
  /** The app's associations of this kind from the from-record. */
  app: readonly Association[];
  /** The link table for the target object. */
  appIdOf(hubId: string): string | undefined;
  hubIdOf(appId: string): string | undefined;
}

export function decideAssociation(i: AssociationInput): Decision[] {
  const k = associationKinds[i.kind];
  const skip = (detail: string): Decision[] => [{ kind: 'skip', object: k.from, reason: 'association-not-synced', hubId: i.fromHubId, appId: i.fromAppId, detail }];
  if (!i.settings.enabled) return [{ kind: 'skip', object: k.from, reason: 'sync-off' }];
  const fromSettings = i.settings.objects[k.from];
  if (!fromSettings) return [{ kind: 'skip', object: k.from, reason: 'object-not-synced' }];
  if (!i.settings.objects[k.to]) return skip(`${k.to} do not sync on this connection, so ${i.kind} associations are not kept`);
  const appTarget = primaryTarget(i.app);
  if (i.changed === 'hub') {
    if (fromSettings.direction === 'from-app') return [{ kind: 'skip', object: k.from, reason: 'direction', hubId: i.fromHubId, appId: i.fromAppId }];
    if (i.hubTarget === null) return [];
    const wanted = i.appIdOf(i.hubTarget);
    if (wanted === undefined) return skip(`${k.to} ${i.hubTarget} is not linked to the app yet`);
    if (wanted === appTarget) return [];
    return [{ kind: 'associate', object: k.from, side: 'app', association: { kind: i.kind, fromId: i.fromAppId, toId: wanted, primary: true } }];
  }
  if (fromSettings.direction === 'to-app') return [{ kind: 'skip', object: k.from, reason: 'direction', hubId: i.fromHubId, appId: i.fromAppId }];
  if (appTarget === null) return [];
  const wanted = i.hubIdOf(appTarget);
  if (wanted === undefined) return skip(`the app's ${k.to} ${appTarget} is not linked to the hub yet`);
  if (wanted === i.hubTarget) return [];
  return [{ kind: 'associate', object: k.from, side: 'hub', hubField: k.hubField, association: { kind: i.kind, fromId: i.fromHubId, toId: wanted, primary: true } }];
}
