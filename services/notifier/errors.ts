import { errorFactory } from '../../libs/errors/index.ts';

/**
 * Stable codes of the notifier. What a notification's result records is never
 * retriable (the notifier retried already); `retriable` here says whether the
 * notifier itself tries again: a 4xx SMTP reply or a dropped connection is retried
 * with backoff, a 5xx reply or a bad message fails at once.
 */
export const notifierErrors = {
  NOTIFICATION_INVALID: { status: 422, retriable: false },
  NOTIFICATION_CHANNEL_UNSUPPORTED: { status: 422, retriable: false },
  /** The notification names a credential this workspace does not have. */
  NOTIFICATION_CREDENTIAL_MISSING: { status: 422, retriable: false },
  /** Another notifier holds a fresh claim on it (it is being delivered now): the consumer waits. */
  NOTIFICATION_IN_FLIGHT: { status: 409, retriable: true },
  /** 4xx reply (421, 450, 451, 452…): the server asks to try later. */
  SMTP_TEMPORARY_FAILURE: { status: 503, retriable: true },
  /** Connection refused or dropped, timeout, DNS: the server was not reached. */
  SMTP_UNREACHABLE: { status: 503, retriable: true },
  /** 5xx reply: the server refused the message; sending it again gets the same answer. */
  SMTP_REJECTED: { status: 502, retriable: false },
  SMTP_AUTH_FAILED: { status: 502, retriable: false },
  /** TLS, protocol or envelope trouble that retrying does not fix. */
  SMTP_FAILED: { status: 502, retriable: false },
  /** A chat webhook failure the HTTP client did not classify. */
  CHAT_DELIVERY_FAILED: { status: 502, retriable: false },
} as const;

export type NotifierErrorCode = keyof typeof notifierErrors;

export const raiseNotifier = errorFactory(notifierErrors);
