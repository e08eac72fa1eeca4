import { errorFactory, errorMessage, pickErrors } from '../errors/index.ts';

export const storeErrors = pickErrors('STORE_UNAVAILABLE', 'STORE_REJECTED');

export const raiseStore = errorFactory(storeErrors);

const DUPLICATE_KEY = 11000;

export function isDuplicateKey(err: unknown): boolean {
  const e = err as { code?: number; writeErrors?: { code?: number }[] } | null;
  return e?.code === DUPLICATE_KEY || (e?.writeErrors?.some((w) => w.code === DUPLICATE_KEY) ?? false);
}

/**
 * Maps a driver error to a typed one: connection trouble is retriable, a document the
 * server refuses (bad field names, too large) is not and must not be retried forever.
 */
export function storeError(err: unknown, what: string) {
  const name = (err as { name?: string } | null)?.name ?? '';
  if (/Network|Timeout|ServerSelection|PoolCleared|NotPrimary|Interrupted/i.test(name)) {
    return raiseStore('STORE_UNAVAILABLE', `store unavailable while ${what}: ${errorMessage(err)}`, { cause: err });
  }
  if (name === 'MongoServerError' || name === 'MongoInvalidArgumentError' || name === 'BSONError') {
    return raiseStore('STORE_REJECTED', `store refused ${what}: ${errorMessage(err)}`, { cause: err });
  }
  return raiseStore('STORE_UNAVAILABLE', `store failed while ${what}: ${errorMessage(err)}`, { cause: err });
}
