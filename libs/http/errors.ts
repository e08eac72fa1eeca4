import { HubError, errorFactory } from '../errors/index.ts';

/**
 * Stable codes of the outbound HTTP client. User errors (a refused address, a bad URL) are
 * recorded on the run and never retried; network trouble and 429/5xx answers are retriable.
 */
export const httpErrors = {
  HTTP_URL_INVALID: { status: 422, retriable: false },
  HTTP_REQUEST_INVALID: { status: 422, retriable: false },
  /** SSRF guard: the host resolves to a loopback, private, link-local, metadata … address. */
  HTTP_ADDRESS_BLOCKED: { status: 422, retriable: false },
  HTTP_HOST_NOT_FOUND: { status: 502, retriable: false },
  HTTP_CONNECTION_FAILED: { status: 502, retriable: true },
  HTTP_TLS_FAILED: { status: 502, retriable: false },
  HTTP_TIMEOUT: { status: 504, retriable: true },
  HTTP_RESPONSE_TOO_LARGE: { status: 502, retriable: false },
  HTTP_TOO_MANY_REDIRECTS: { status: 502, retriable: false },
  /** The caller's signal fired (service stopping): the run can be resumed later. */
  HTTP_ABORTED: { status: 503, retriable: true },
  HTTP_ALLOWLIST_INVALID: { status: 500, retriable: false },
} as const;

export const raise = errorFactory(httpErrors);

/** What the far end answered, as the client returns it. */
export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  /** Parsed JSON when the content type is JSON, else text. */
  body: unknown;
  attempts: number;
  /** Final URL after redirects. */
  url: string;
}

/**
 * A final 4xx/5xx answer. `status` stays the hub's own (502, like every HubError it is what
 * an API would answer); the upstream answer is on `response` so the caller can record it.
 */
export class HttpStatusError extends HubError {
  readonly response: HttpResponse;

  constructor(response: HttpResponse, method: string, host: string) {
    const retriable = response.status === 429 || response.status >= 500;
    const tries = response.attempts === 1 ? '' : ` after ${response.attempts} attempts`;
    super('HTTP_STATUS', { status: 502, retriable }, `${method} ${host} answered ${response.status}${tries}`);
    this.response = response;
  }
}
