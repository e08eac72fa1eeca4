/**
 * Typed errors with stable codes, all listed in one catalogue (catalogue.ts: status,
 * retriable, meaning). A package picks the codes it raises (`pickErrors`) and raises
 * them through `HubError`, so callers decide on retry and on the HTTP answer from
 * data, not from message text.
 */
import { errorCatalogue, type ErrorCode } from './catalogue.ts';

export { errorCatalogue, type ErrorCode, type CatalogueEntry } from './catalogue.ts';
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

/** The catalogue's entries for these codes: a package's own view of the codes it raises. */
export function pickErrors<const C extends ErrorCode>(...codes: C[]): { readonly [K in C]: (typeof errorCatalogue)[K] } {
  return Object.fromEntries(codes.map((c) => [c, errorCatalogue[c]])) as { readonly [K in C]: (typeof errorCatalogue)[K] };
}

/** Raises any catalogued code. */
export function raise(code: ErrorCode, message: string, options: { path?: string; cause?: unknown } = {}): HubError {
  return new HubError(code, errorCatalogue[code], message, options);
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
