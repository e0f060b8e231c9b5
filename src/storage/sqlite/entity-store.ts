// Generic access to the entity tables (get, upsert, delete, list, count), shared by every
// entity through its TableSpec. Each operation uses one or two cached prepared statements.
import { randomUUID } from 'node:crypto';
import type { EntityMap, EntityName } from '../../domain/types.ts';
import { DuplicateKeyError, type Condition, type EntityRef, type ListQuery } from '../storage.ts';
import { decodeRow, encodeValue, type SqlValue } from './codec.ts';
import { countSql, listSql } from './list-query.ts';
import { quoteIdentifier as q, SEQUENCE_COLUMN } from './sql-names.ts';
import type { StatementCache } from './statement-cache.ts';
import { TABLE_SPECS, type TableSpec } from './table-spec.ts';

type Row = Record<string, unknown>;
type NamedParams = Record<string, SqlValue>;

interface EntitySql {
  selectById: string;
  selectByKey: string;
  deleteById: string;
  deleteByKey: string;
  insert: string;
  updateBySequence: string;
  /** Insert-or-update on the natural key in one statement (the engine's hot path). */
  upsertByKey: string;
}

function valueExpression(column: TableSpec['columns'][number]): string {
  const param = `@${column.name}`;
  return column.insertDefault === undefined ? param : `coalesce(${param}, ${sqlLiteral(column.insertDefault)})`;
}

function sqlLiteral(value: SqlValue): string {
  if (value === null) return 'NULL';
  if (typeof value === 'string') return `'${value.replaceAll("'", "''")}'`;
  return String(value);
}

function buildSql(spec: TableSpec): EntitySql {
  const table = q(spec.entity.table);
  const keyMatch = spec.entity.key.map((k) => `${q(k)} = ?`).join(' AND ');
  const columnList = spec.columns.map((c) => q(c.name)).join(', ');
  const values = spec.columns.map(valueExpression).join(', ');
  // Null parameters keep the stored value: upserts never unset a field.
  const keep = (name: string): string => `${q(name)} = coalesce(@${name}, ${q(name)})`;
  const updatable = spec.columns.filter((c) => c.kind !== 'id').map((c) => keep(c.name));
  const nonKey = spec.columns.filter((c) => c.kind !== 'id' && !spec.keySet.has(c.name)).map((c) => keep(c.name));
  const insert = `INSERT INTO ${table} (${columnList}) VALUES (${values})`;
  return {
    selectById: `SELECT * FROM ${table} WHERE id = ?`,
    selectByKey: `SELECT * FROM ${table} WHERE ${keyMatch}`,
    deleteById: `DELETE FROM ${table} WHERE id = ? RETURNING *`,
    deleteByKey: `DELETE FROM ${table} WHERE ${keyMatch} RETURNING *`,
    insert: `${insert} RETURNING *`,
    updateBySequence: `UPDATE ${table} SET ${updatable.join(', ')} WHERE ${q(SEQUENCE_COLUMN)} = @${SEQUENCE_COLUMN} RETURNING *`,
    upsertByKey:
      `${insert} ON CONFLICT (${spec.entity.key.map(q).join(', ')}) DO ` +
      (nonKey.length > 0 ? `UPDATE SET ${nonKey.join(', ')}` : 'NOTHING') +
      ' RETURNING *',
  };
}

const ENTITY_SQL: Readonly<Record<EntityName, EntitySql>> = Object.fromEntries(
  Object.values(TABLE_SPECS).map((spec) => [spec.entity.name, buildSql(spec)]),
) as Record<EntityName, EntitySql>;

function isUniqueViolation(error: unknown): boolean {
  return error instanceof Error && 'code' in error && (error.code === 'SQLITE_CONSTRAINT_UNIQUE' || error.code === 'SQLITE_CONSTRAINT_PRIMARYKEY');
}

export class EntityStore {
  constructor(private readonly statements: StatementCache) {}

  get<E extends EntityName>(entity: E, ref: EntityRef): EntityMap[E] | null {
    const row = this.#find(TABLE_SPECS[entity], ref);
    return row === undefined ? null : this.#decode(entity, row);
  }

  upsert<E extends EntityName>(entity: E, ref: EntityRef, fields: Partial<EntityMap[E]>): EntityMap[E] {
    const spec = TABLE_SPECS[entity];
    const sql = ENTITY_SQL[entity];
    const given = encodeGivenFields(spec, fields);
    const refKey = 'key' in ref ? completeKey(spec, ref.key) : null;

    if (refKey !== null && given.id === undefined && this.#canUpsertInOneStatement(spec, refKey, given)) {
      const params = { ...allNull(spec), ...given, ...refKey, id: randomUUID() };
      const row = this.#write(entity, params, () => this.statements.get(sql.upsertByKey).get(params));
      // DO NOTHING (a table made only of key columns) returns no row; the record is unchanged.
      return this.#decode(entity, row ?? this.#find(spec, ref) ?? fail(`${entity} vanished during upsert`));
    }

    const existing = this.#find(spec, ref);
    if (existing !== undefined) {
      const params: NamedParams = { ...allNull(spec), ...given, id: null, [SEQUENCE_COLUMN]: Number(existing[SEQUENCE_COLUMN]) };
      const keyAfter = Object.fromEntries(spec.entity.key.map((k) => [k, given[k] ?? existing[k]]));
      const row = this.#write(entity, keyAfter, () => this.statements.get(sql.updateBySequence).get(params));
      return this.#decode(entity, row ?? fail(`${entity} vanished during upsert`));
    }

    const id = 'id' in ref ? ref.id : typeof given.id === 'string' ? given.id : randomUUID();
    const params: NamedParams = { ...allNull(spec), ...refKey, ...given, id };
    for (const name of [...spec.entity.key, ...spec.requiredOnInsert]) {
      if (params[name] === null) throw new Error(`cannot create ${entity}: ${name} is required`);
    }
    const row = this.#write(entity, params, () => this.statements.get(sql.insert).get(params));
    return this.#decode(entity, row ?? fail(`insert of ${entity} returned nothing`));
  }

  delete<E extends EntityName>(entity: E, ref: EntityRef): EntityMap[E] | null {
    const spec = TABLE_SPECS[entity];
    const sql = ENTITY_SQL[entity];
    const row =
      'id' in ref
        ? this.statements.get(sql.deleteById).get(ref.id)
        : this.statements.get(sql.deleteByKey).get(...keyParams(spec, ref.key));
    return row === undefined ? null : this.#decode(entity, row as Row);
  }

  list<E extends EntityName>(entity: E, query: ListQuery): EntityMap[E][] {
    const { sql, params } = listSql(TABLE_SPECS[entity], query);
    return this.statements
      .get(sql)
      .all(...params)
      .map((row) => this.#decode(entity, row as Row));
  }

  count(entity: EntityName, filter: readonly Condition[]): number {
    const { sql, params } = countSql(TABLE_SPECS[entity], filter);
    return Number(this.statements.get(sql).pluck().get(...params));
  }

  /** Every record of a tenant in natural order (used to load rate indexes). */
  allOfTenant<E extends EntityName>(entity: E, tenant: string): EntityMap[E][] {
    const table = q(TABLE_SPECS[entity].entity.table);
    return this.statements
      .get(`SELECT * FROM ${table} WHERE tenant = ? ORDER BY ${q(SEQUENCE_COLUMN)}`)
      .all(tenant)
      .map((row) => this.#decode(entity, row as Row));
  }

  #find(spec: TableSpec, ref: EntityRef): Row | undefined {
    const sql = ENTITY_SQL[spec.entity.name];
    const row =
      'id' in ref
        ? this.statements.get(sql.selectById).get(ref.id)
        : this.statements.get(sql.selectByKey).get(...keyParams(spec, ref.key));
    return row as Row | undefined;
  }

  // One statement is enough when the key stays what the ref says and nothing required on
  // insert is missing (otherwise NOT NULL would fail before the conflict is even seen).
  #canUpsertInOneStatement(spec: TableSpec, refKey: NamedParams, given: NamedParams): boolean {
    for (const name of spec.entity.key) {
      if (given[name] !== undefined && given[name] !== refKey[name]) return false;
    }
    return spec.requiredOnInsert.every((name) => given[name] !== undefined);
  }

  #write(entity: EntityName, attemptedKey: Readonly<Record<string, unknown>>, run: () => unknown): Row | undefined {
    try {
      return run() as Row | undefined;
    } catch (error) {
      if (isUniqueViolation(error)) {
        const spec = TABLE_SPECS[entity];
        throw new DuplicateKeyError(entity, Object.fromEntries(spec.entity.key.map((k) => [k, attemptedKey[k]])));
      }
      throw error;
    }
  }

  #decode<E extends EntityName>(entity: E, row: Row): EntityMap[E] {
    return decodeRow(TABLE_SPECS[entity].fieldKinds, row) as unknown as EntityMap[E];
  }
}

function fail(message: string): never {
  throw new Error(message);
}

function allNull(spec: TableSpec): NamedParams {
  const params: NamedParams = {};
  for (const column of spec.columns) params[column.name] = null;
  return params;
}

/** Encodes the fields that are set (neither undefined nor null); the rest are left out. */
function encodeGivenFields(spec: TableSpec, fields: Readonly<Record<string, unknown>>): NamedParams {
  const encoded: NamedParams = {};
  for (const column of spec.columns) {
    const value = fields[column.name];
    if (value !== undefined && value !== null) encoded[column.name] = encodeValue(column.kind, value);
  }
  return encoded;
}

function completeKey(spec: TableSpec, key: Readonly<Record<string, string>>): NamedParams {
  const values: NamedParams = {};
  for (const name of spec.entity.key) {
    const value = key[name];
    if (typeof value !== 'string') throw new Error(`incomplete key for ${spec.entity.name}: ${name} is missing`);
    values[name] = value;
  }
  return values;
}

function keyParams(spec: TableSpec, key: Readonly<Record<string, string>>): SqlValue[] {
  const values = completeKey(spec, key);
  return spec.entity.key.map((name) => values[name]);
}
