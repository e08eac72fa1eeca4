import { errorFactory } from '../errors/index.ts';

/** Stable codes of run-time failures recorded on runs (and of the runs API). */
export const runErrorSpecs = {
  STEP_TIMEOUT: { status: 504, retriable: true },
  STEP_TYPE_UNSUPPORTED: { status: 422, retriable: false },
  ITERATOR_ITEMS_INVALID: { status: 422, retriable: false },
  ITERATOR_TOO_MANY_ITEMS: { status: 422, retriable: false },
  RECORD_NOT_FOUND: { status: 404, retriable: false },
  RECORD_VALUES_INVALID: { status: 422, retriable: false },
  WORKFLOW_LOOP_DEPTH: { status: 422, retriable: false },
  SEARCH_TOO_BROAD: { status: 422, retriable: false },
  /** The step's record (its input and output) is larger than hub.runs takes; its output is not kept. */
  STEP_RECORD_TOO_LARGE: { status: 413, retriable: false },
  /** The run names a workflow version hub.workflows does not hold. */
  WORKFLOW_VERSION_MISSING: { status: 422, retriable: false },
  /** hub.runs refused the run's events for a reason no retry fixes (the broker's refusal is recorded). */
  RUN_NOT_RECORDABLE: { status: 500, retriable: false },
} as const;

export const runErrors = Object.fromEntries(Object.entries(runErrorSpecs).map(([code, spec]) => [code, { code, ...spec }])) as
  { [K in keyof typeof runErrorSpecs]: { code: K } & (typeof runErrorSpecs)[K] };

export const raiseRun = errorFactory(runErrorSpecs);
