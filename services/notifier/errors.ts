import { errorFactory, pickErrors } from '../../libs/errors/index.ts';

/**
 * Stable codes of the notifier. What a notification's result records is never
 * retriable (the notifier retried already); `retriable` here says whether the
 * notifier itself tries again: a 4xx SMTP reply or a dropped connection is retried
 * with backoff, a 5xx reply or a bad message fails at once.
 */
export const notifierErrors = pickErrors('NOTIFICATION_INVALID', 'NOTIFICATION_CHANNEL_UNSUPPORTED', 'NOTIFICATION_CREDENTIAL_MISSING', 'NOTIFICATION_IN_FLIGHT', 'SMTP_TEMPORARY_FAILURE', 'SMTP_UNREACHABLE', 'SMTP_REJECTED', 'SMTP_AUTH_FAILED', 'SMTP_FAILED', 'CHAT_DELIVERY_FAILED');

export type NotifierErrorCode = keyof typeof notifierErrors;

export const raiseNotifier = errorFactory(notifierErrors);
