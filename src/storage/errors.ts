/** A storage failure whose message tells the operator what to do. */
export class StorageError extends Error {
  override name = 'StorageError';
}
