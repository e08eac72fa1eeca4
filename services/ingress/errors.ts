import { errorFactory } from '../../libs/errors/index.ts';

/** Every refusal of the ingress, with its HTTP status. Codes are part of the API. */
export const ingressErrors = {
  BODY_INVALID: { status: 400, retriable: false },
  JSON_INVALID: { status: 400, retriable: false },
  QUERY_INVALID: { status: 400, retriable: false },
  UNAUTHORIZED: { status: 401, retriable: false },
  WEBHOOK_SIGNATURE_REQUIRED: { status: 401, retriable: false },
  KEY_REVOKED: { status: 403, retriable: false },
  WORKSPACE_FORBIDDEN: { status: 403, retriable: false },
  NOT_FOUND: { status: 404, retriable: false },
  METHOD_NOT_ALLOWED: { status: 405, retriable: false },
  WORKFLOW_CONFLICT: { status: 409, retriable: true },
  CREDENTIAL_EXISTS: { status: 409, retriable: false },
  WORKFLOW_NOT_ACTIVE: { status: 409, retriable: false },
  WORKFLOW_NOT_MANUAL: { status: 409, retriable: false },
  RUN_NOT_RETRIABLE: { status: 409, retriable: false },
  RUN_ALREADY_ENDED: { status: 409, retriable: false },
  HOOK_DISABLED: { status: 410, retriable: false },
  BODY_TOO_LARGE: { status: 413, retriable: false },
  MEDIA_TYPE_UNSUPPORTED: { status: 415, retriable: false },
  RATE_LIMITED: { status: 429, retriable: true },
  DUPLICATE_IN_FLIGHT: { status: 503, retriable: true },
  INTERNAL: { status: 500, retriable: true },
} as const;

export const raise = errorFactory(ingressErrors);
