// SQL identifier quoting. Some field names are SQL keywords ("primary"), so every identifier
// built from the field catalogue is quoted; only catalogue names ever reach this function.
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Column holding the insertion sequence, which defines the natural order of a table. */
export const SEQUENCE_COLUMN = '_seq';
