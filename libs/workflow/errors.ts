import { errorFactory, pickErrors } from '../errors/index.ts';

/** Stable codes of workflow definitions and their templates. */
export const workflowErrors = pickErrors('WORKFLOW_INVALID', 'CRON_INVALID', 'TEMPLATE_INVALID', 'TEMPLATE_VALUE_MISSING');

export const raise = errorFactory(workflowErrors);
