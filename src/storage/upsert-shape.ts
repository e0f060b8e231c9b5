// Driver-independent part of the upsert plans of the SQLite and PostgreSQL entity stores.

/** Where a table's natural key and insert-required columns sit among the columns given to an upsert. */
export interface UpsertColumns {
  readonly keyIndexes: readonly number[];
  readonly requiredIndexes: readonly number[];
}

/**
 * One statement (INSERT ... ON CONFLICT on the natural key) is enough when the key stays what the
 * ref says and nothing required on insert is missing (otherwise NOT NULL would fail before the key
 * conflict is even considered). `given` holds a value per column, undefined when not given.
 */
export function canUpsertInOneStatement(plan: UpsertColumns, refKey: readonly string[], given: readonly unknown[]): boolean {
  for (let i = 0; i < plan.keyIndexes.length; i++) {
    const value = given[plan.keyIndexes[i]];
    if (value !== undefined && value !== refKey[i]) return false;
  }
  return plan.requiredIndexes.every((i) => given[i] !== undefined);
}
