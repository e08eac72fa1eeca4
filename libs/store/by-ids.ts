/**
 * Documents by `_id`, many at once, as one lookup per id a few at a time rather than one
 * `{_id: {$in: [...]}}` query. FerretDB 1.x does not push `$in` down to PostgreSQL: it
 * reads the whole collection and filters in memory. Measured here on 12,000 sync links:
 * 600–900 ms for 40 ids with `$in` (2.6 s with `$or`), 35–50 ms for 40 lookups by `_id`
 * 16 at a time — and the `$in` cost grows with the collection, not with the ids asked.
 */
import type { Collection, Document, Filter } from 'mongodb';

const CONCURRENCY = 16;

/** The documents found among `ids` (missing ones left out), each also matching `also` when given. */
export async function findByIds<T extends Document & { _id: string }>(collection: Collection<T>, ids: readonly string[], also: Filter<T> = {}): Promise<T[]> {
  const unique = [...new Set(ids)];
  const found: T[] = [];
  for (let i = 0; i < unique.length; i += CONCURRENCY) {
    const docs = await Promise.all(unique.slice(i, i + CONCURRENCY).map((_id) => collection.findOne({ ...also, _id } as Filter<T>)));
    for (const doc of docs) if (doc) found.push(doc as T);
  }
  return found;
}

/** Deletes the documents with these ids, a few at a time (the same reason as findByIds). */
export async function deleteByIds<T extends Document & { _id: string }>(collection: Collection<T>, ids: readonly string[]): Promise<void> {
  const unique = [...new Set(ids)];
  for (let i = 0; i < unique.length; i += CONCURRENCY) {
    await Promise.all(unique.slice(i, i + CONCURRENCY).map((_id) => collection.deleteOne({ _id } as Filter<T>)));
  }
}
