/**
 * Typed errors with stable codes. Each package declares its own registry of codes
 * (code → HTTP status, retriable) and raises them through `HubError`, so callers
 * decide on retry and on the HTTP answer from data, not from message text.
 */
export interface ErrorSpec {
  readonly status: number;
  readonly retriable: boolean;
}

export type ErrorRegistry = Readonly<Record<string, ErrorSpec>>;

export class HubError extends Error {
  readonly code: string;
  readonly status: number;
  readonly retriable: boolean;
  /** JSON pointer to the offending input field, when the error is about input. */
  readonly path: string | undefined;

  constructor(code: string, spec: ErrorSpec, message: string, options: { path?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HubError';
    this.code = code;
    this.status = spec.status;
    this.retriable = spec.retriable;
    this.path = options.path;
  }

  toJSON(): { code: string; message: string; path?: string } {
    return this.path === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, path: this.path };
  }
}

/** Builds a `raise(code, message)` bound to one registry, so codes are checked at compile time. */
export function errorFactory<R extends ErrorRegistry>(registry: R) {
  return function raise(code: keyof R & string, message: string, options: { path?: string; cause?: unknown } = {}): HubError {
    return new HubError(code, registry[code] as ErrorSpec, message, options);
  };
}

/** True when retrying the same operation may succeed (broker or store unavailable, timeouts). */
export function isRetriable(err: unknown): boolean {
  if (err instanceof HubError) return err.retriable;
  // kafkajs marks its own errors; MongoDB network errors carry error labels.
  const e = err as { retriable?: unknown; hasErrorLabel?: (l: string) => boolean } | null;
  if (e && typeof e.retriable === 'boolean') return e.retriable;
  if (e && typeof e.hasErrorLabel === 'function') {
    return e.hasErrorLabel('RetryableWriteError') || e.hasErrorLabel('ResetPool') || e.hasErrorLabel('NetworkError');
  }
  return false;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
