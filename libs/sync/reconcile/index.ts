/**
 * The pure reconcile logic of data sync (no I/O): mappings and value conversion, sync
 * rules, per-field conflict resolution, initial-sync matching, echo suppression,
 * associations, resync of deleted records and sync health. Every function takes plain
 * data and returns decisions (`link`, `create`, `update`, `associate`, `skip` with a
 * reason) that a service publishes as events and carries out through a Connector.
 */
export * from './types.ts';
export { effectiveMappings, mappingKey, projectHub, projectApp, asHubFields, appPropertiesOf, hubPropertiesOf, type MappingChanges, type Projection } from './mapping.ts';
export { normalize, isEmpty, isValidEmail, normalizeDomain, normalizeName, sameValue, valuesHash, instant } from './values.ts';
export { checkRules, type RuleVerdict } from './rules.ts';
export { mergeFields, type Merge, type MergeInput } from './conflicts.ts';
export { decideChange, decideDeletion, planResync, matchKeysOf, objectSettings, updatesOf, type ChangeInput, type ResyncItem } from './decide.ts';
export { planInitialSync, type InitialSyncInput } from './matching.ts';
export { associationKinds, associationKindOf, decideAssociation, primaryTarget, type AssociationInput } from './associations.ts';
export { tallyHealth, type SyncHealth } from './health.ts';
