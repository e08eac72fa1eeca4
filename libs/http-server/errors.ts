import { errorFactory, pickErrors } from '../errors/index.ts';

/** Every refusal of the hub's HTTP services (ingress and api); codes, statuses and meanings are in the catalogue. */
export const httpErrors = pickErrors(
  'BODY_INVALID', 'JSON_INVALID', 'EVENT_INVALID', 'WORKFLOW_INVALID', 'QUERY_INVALID', 'PARAMS_INVALID', 'HEADERS_INVALID',
  'UNAUTHORIZED', 'WEBHOOK_SIGNATURE_REQUIRED', 'KEY_REVOKED', 'WORKSPACE_FORBIDDEN', 'NOT_FOUND', 'METHOD_NOT_ALLOWED',
  'WORKFLOW_CONFLICT', 'CREDENTIAL_EXISTS', 'WORKFLOW_NOT_ACTIVE', 'WORKFLOW_NOT_MANUAL', 'RUN_NOT_RETRIABLE', 'RUN_ALREADY_ENDED',
  'HOOK_DISABLED', 'BODY_TOO_LARGE', 'MEDIA_TYPE_UNSUPPORTED', 'REQUEST_HEADERS_TOO_LARGE', 'RATE_LIMITED', 'DUPLICATE_IN_FLIGHT',
  'API_UNAVAILABLE', 'INTERNAL',
);

export const raise = errorFactory(httpErrors);
