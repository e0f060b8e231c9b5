// What PostgreSQL needs to know about each entity table beyond the field catalogue: which
// columns may never be null, and which of those get a default instead of being required on
// insert. The rules are the SQLite ones (src/storage/sqlite/table-spec.ts), kept here in domain
// values rather than SQLite's encoded ones; test/storage/postgres.test.ts checks they agree.
import { ENTITIES, type EntityDescriptor, type FieldKind } from '../../domain/entities.ts';
import type { EntityName } from '../../domain/types.ts';

export interface PgColumnSpec {
  name: string;
  kind: FieldKind;
  notNull: boolean;
  /** Domain value used on insert when the caller gives none; absent for required columns. */
  insertDefault: boolean | number | undefined;
}

export interface PgTableSpec {
  entity: EntityDescriptor;
  columns: readonly PgColumnSpec[];
  /** Non-key columns a new record cannot be created without. */
  requiredOnInsert: readonly string[];
  keySet: ReadonlySet<string>;
}

// Non-nullable fields of src/domain/types.ts that are not part of the natural key.
const NOT_NULL_FIELDS: Partial<Record<EntityName, Readonly<Record<string, { default: boolean | number } | 'required'>>>> = {
  account: { type: 'required', balance: { default: 0 } },
  invoice: { invoice_date: 'required' },
  transaction: { primary: { default: false }, inbound: { default: false } },
};

function buildTableSpec(entity: EntityDescriptor): PgTableSpec {
  const extras = NOT_NULL_FIELDS[entity.name] ?? {};
  const keySet = new Set(entity.key);
  const columns: PgColumnSpec[] = Object.entries(entity.fields).map(([name, kind]) => {
    const extra = extras[name];
    const notNull = kind === 'id' || keySet.has(name) || extra !== undefined;
    const insertDefault = extra !== undefined && extra !== 'required' ? extra.default : undefined;
    return { name, kind, notNull, insertDefault };
  });
  return {
    entity,
    columns,
    requiredOnInsert: Object.entries(extras)
      .filter(([, rule]) => rule === 'required')
      .map(([name]) => name),
    keySet,
  };
}

export const PG_TABLE_SPECS: Readonly<Record<EntityName, PgTableSpec>> = Object.fromEntries(
  Object.values(ENTITIES).map((entity) => [entity.name, buildTableSpec(entity)]),
) as Record<EntityName, PgTableSpec>;
