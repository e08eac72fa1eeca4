import { errorFactory } from '../errors/index.ts';

/** Stable codes of workflow definitions and their templates. */
export const workflowErrors = {
  /** A definition refused at save time; `path` points into the body. */
  WORKFLOW_INVALID: { status: 400, retriable: false },
  CRON_INVALID: { status: 400, retriable: false },
  TEMPLATE_INVALID: { status: 400, retriable: false },
  /** Strict rendering met a missing value: a user error recorded on the run ("bad template value"). */
  TEMPLATE_VALUE_MISSING: { status: 422, retriable: false },
} as const;

export const raise = errorFactory(workflowErrors);
