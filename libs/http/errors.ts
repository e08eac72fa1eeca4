import { HubError, errorFactory, pickErrors } from '../errors/index.ts';

/**
 * Stable codes of the outbound HTTP client. User errors (a refused address, a bad URL) are
 * recorded on the run and never retried; network trouble and 429/5xx answers are retriable.
 */
export const httpErrors = pickErrors('HTTP_URL_INVALID', 'HTTP_REQUEST_INVALID', 'HTTP_ADDRESS_BLOCKED', 'HTTP_HOST_NOT_FOUND', 'HTTP_CONNECTION_FAILED', 'HTTP_TLS_FAILED', 'HTTP_TIMEOUT', 'HTTP_RESPONSE_TOO_LARGE', 'HTTP_TOO_MANY_REDIRECTS', 'HTTP_ABORTED', 'HTTP_ALLOWLIST_INVALID');

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
