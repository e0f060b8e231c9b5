// What SQLite needs to know about each entity table beyond the field catalogue: which columns
// may never be null, and which of those get a default instead of being required on insert.
import { ENTITIES, type EntityDescriptor, type FieldKind } from '../../domain/entities.ts';
import type { EntityName } from '../../domain/types.ts';
import { encodeValue, type SqlValue } from './codec.ts';

export interface ColumnSpec {
  name: string;
  kind: FieldKind;
  notNull: boolean;
  /** Encoded value used on insert when the caller gives none; absent for required columns. */
  insertDefault: SqlValue | undefined;
}

export interface TableSpec {
  entity: EntityDescriptor;
  columns: readonly ColumnSpec[];
  /** [field, kind] pairs, for decoding rows. */
  fieldKinds: readonly (readonly [string, FieldKind])[];
  /** Non-key columns a new record cannot be created without. */
  requiredOnInsert: readonly string[];
  keySet: ReadonlySet<string>;
}

// Non-nullable fields of src/domain/types.ts that are not part of the natural key.
const NOT_NULL_FIELDS: Partial<Record<EntityName, Readonly<Record<string, { default: unknown } | 'required'>>>> = {
  account: { type: 'required', balance: { default: 0 } },
  invoice: { invoice_date: 'required' },
  transaction: { primary: { default: false }, inbound: { default: false } },
};

function buildTableSpec(entity: EntityDescriptor): TableSpec {
  const extras = NOT_NULL_FIELDS[entity.name] ?? {};
  const keySet = new Set(entity.key);
  const columns: ColumnSpec[] = Object.entries(entity.fields).map(([name, kind]) => {
    const extra = extras[name];
    const notNull = kind === 'id' || keySet.has(name) || extra !== undefined;
    const insertDefault = extra !== undefined && extra !== 'required' ? encodeValue(kind, extra.default) : undefined;
    return { name, kind, notNull, insertDefault };
  });
  return {
    entity,
    columns,
    fieldKinds: columns.map((c) => [c.name, c.kind] as const),
    requiredOnInsert: Object.entries(extras)
      .filter(([, rule]) => rule === 'required')
      .map(([name]) => name),
    keySet,
  };
}

export const TABLE_SPECS: Readonly<Record<EntityName, TableSpec>> = Object.fromEntries(
  Object.values(ENTITIES).map((entity) => [entity.name, buildTableSpec(entity)]),
) as Record<EntityName, TableSpec>;
