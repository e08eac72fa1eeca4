import { errorFactory, pickErrors } from '../../libs/errors/index.ts';

/** Every refusal of the ingress, with its HTTP status. Codes are part of the API. */
export const ingressErrors = pickErrors('BODY_INVALID', 'JSON_INVALID', 'QUERY_INVALID', 'UNAUTHORIZED', 'WEBHOOK_SIGNATURE_REQUIRED', 'KEY_REVOKED', 'WORKSPACE_FORBIDDEN', 'NOT_FOUND', 'METHOD_NOT_ALLOWED', 'WORKFLOW_CONFLICT', 'CREDENTIAL_EXISTS', 'WORKFLOW_NOT_ACTIVE', 'WORKFLOW_NOT_MANUAL', 'RUN_NOT_RETRIABLE', 'RUN_ALREADY_ENDED', 'HOOK_DISABLED', 'BODY_TOO_LARGE', 'MEDIA_TYPE_UNSUPPORTED', 'RATE_LIMITED', 'DUPLICATE_IN_FLIGHT', 'INTERNAL');

export const raise = errorFactory(ingressErrors);
