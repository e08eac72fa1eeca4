import { errorFactory, pickErrors } from '../errors/index.ts';

/** Stable codes of run-time failures recorded on runs (and of the runs API). */
export const runErrorSpecs = pickErrors('STEP_TIMEOUT', 'STEP_TYPE_UNSUPPORTED', 'ITERATOR_ITEMS_INVALID', 'ITERATOR_TOO_MANY_ITEMS', 'RECORD_NOT_FOUND', 'RECORD_VALUES_INVALID', 'WORKFLOW_LOOP_DEPTH', 'SEARCH_TOO_BROAD', 'STEP_RECORD_TOO_LARGE', 'WORKFLOW_VERSION_MISSING', 'RUN_NOT_RECORDABLE');

export const runErrors = Object.fromEntries(Object.entries(runErrorSpecs).map(([code, spec]) => [code, { code, ...spec }])) as
  { [K in keyof typeof runErrorSpecs]: { code: K } & (typeof runErrorSpecs)[K] };

export const raiseRun = errorFactory(runErrorSpecs);
