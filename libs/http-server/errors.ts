import { errorFactory } from '../errors/index.ts';

/** Every refusal of the hub's HTTP services (ingress and api), with its HTTP status. Codes are part of the API. */
export const httpErrors = {
  BODY_INVALID: { status: 400, retriable: false },
  JSON_INVALID: { status: 400, retriable: false },
  /** A record event of POST /v1/events (the same code as libs/kafka/record-events.ts raises). */
  EVENT_INVALID: { status: 400, retriable: false },
  /** A workflow definition (the same code as libs/workflow/validate.ts raises). */
  WORKFLOW_INVALID: { status: 400, retriable: false },
  QUERY_INVALID: { status: 400, retriable: false },
  PARAMS_INVALID: { status: 400, retriable: false },
  HEADERS_INVALID: { status: 400, retriable: false },
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
  REQUEST_HEADERS_TOO_LARGE: { status: 431, retriable: false },
  RATE_LIMITED: { status: 429, retriable: true },
  DUPLICATE_IN_FLIGHT: { status: 503, retriable: true },
  /** The ingress could not reach the api to forward a control-plane request. */
  API_UNAVAILABLE: { status: 503, retriable: true },
  INTERNAL: { status: 500, retriable: true },
} as const;

export const raise = errorFactory(httpErrors);
