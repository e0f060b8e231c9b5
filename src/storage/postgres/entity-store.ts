// Generic access to the entity tables (get, upsert, delete, list, count), shared by every
// entity through its table spec. A write that would break a natural key's uniqueness is
// detected without raising an error inside the transaction (ON CONFLICT DO NOTHING, or a check
// before a key change), because any error aborts a PostgreSQL transaction while the contract
// keeps it usable after a DuplicateKeyError. A concurrent writer that slips past the check makes
// the statement fail with a serialization failure, and the transaction is run again.
import { randomUUID } from 'node:crypto';
import type { EntityMap, EntityName } from '../../domain/types.ts';
import { DuplicateKeyError, type Condition, type EntityRef, type ListQuery } from '../storage.ts';
import { decodeInteger, decodeRawRow, encodeValue, pgType, type PgParam } from './codec.ts';
import { columnList, countSql, listSql, type ListSqlOptions } from './list-query.ts';
import type { Row, TransactionSession } from './session.ts';
import { quoteIdentifier as q, SEQUENCE_COLUMN, SqlParams } from './sql.ts';
import { PG_TABLE_SPECS, type PgColumnSpec, type PgTableSpec } from './table-spec.ts';
import { canUpsertInOneStatement } from '../upsert-shape.ts';

/** Encoded values in column order; undefined where the caller gave nothing (or null). */
type GivenValues = (PgParam | undefined)[];

interface EntityPlan {
  spec: PgTableSpec;
  idIndex: number;
  keyIndexes: readonly number[];
  requiredIndexes: readonly number[];
  sql: {
    selectById: string;
    selectByKey: string;
    /** Rows start with the sequence column, then every column. */
    findById: string;
    findByKey: string;
    keyTakenByOther: string;
    deleteById: string;
    deleteByKey: string;
    insert: string;
    updateBySequence: string;
    upsertByKey: string;
    /** upsertByKey answering nothing: for a statement inside another one's CTE, whose rows nobody reads. */
    upsertByKeyQuiet: string;
    allOfTenant: string;
  };
}

function placeholder(column: PgColumnSpec, index: number): string {
  return `$${index + 1}::${pgType(column.kind)}`;
}

function defaultLiteral(value: boolean | number): string {
  return typeof value === 'boolean' ? (value ? 'TRUE' : 'FALSE') : String(value);
}

function insertValue(column: PgColumnSpec, index: number): string {
  const value = placeholder(column, index);
  return column.insertDefault === undefined ? value : `coalesce(${value}, ${defaultLiteral(column.insertDefault)})`;
}

function buildPlan(spec: PgTableSpec): EntityPlan {
  const columns = spec.columns;
  const indexOf = (name: string): number => columns.findIndex((c) => c.name === name);
  const table = q(spec.entity.table);
  const names = columns.map((c) => q(c.name)).join(', ');
  const returning = columnList(spec);
  const keyColumns = spec.entity.key.map(q).join(', ');
  const keyMatch = spec.entity.key.map((k, i) => `t.${q(k)} = $${i + 1}::text`).join(' AND ');
  const values = columns.map(insertValue).join(', ');
  // A null parameter keeps the stored value: upserts never unset a field. Parameters are those
  // of the insert, by column position; the id is never changed.
  const keepUnlessGiven = (filter: (c: PgColumnSpec) => boolean): string[] =>
    columns.flatMap((c, i) => (c.kind === 'id' || !filter(c) ? [] : [`${q(c.name)} = coalesce(${placeholder(c, i)}, t.${q(c.name)})`]));
  // The update by sequence binds every column but the id, in column order, then the sequence.
  const updatable = columns.filter((c) => c.kind !== 'id');
  const updateAssignments = updatable.map((c, i) => `${q(c.name)} = coalesce(${placeholder(c, i)}, t.${q(c.name)})`);
  const sequenceParam = `$${updatable.length + 1}::bigint`;
  const upsertByKey =
    `INSERT INTO ${table} AS t (${names}) VALUES (${values}) ON CONFLICT (${keyColumns}) DO UPDATE SET ` +
    keepUnlessGiven((c) => !spec.keySet.has(c.name)).join(', ');
  return {
    spec,
    idIndex: columns.findIndex((c) => c.kind === 'id'),
    keyIndexes: spec.entity.key.map(indexOf),
    requiredIndexes: spec.requiredOnInsert.map(indexOf),
    sql: {
      selectById: `SELECT ${returning} FROM ${table} t WHERE t.id = $1::text`,
      selectByKey: `SELECT ${returning} FROM ${table} t WHERE ${keyMatch}`,
      findById: `SELECT t.${q(SEQUENCE_COLUMN)}, ${returning} FROM ${table} t WHERE t.id = $1::text`,
      findByKey: `SELECT t.${q(SEQUENCE_COLUMN)}, ${returning} FROM ${table} t WHERE ${keyMatch}`,
      keyTakenByOther: `SELECT 1 FROM ${table} t WHERE ${keyMatch} AND t.${q(SEQUENCE_COLUMN)} <> $${spec.entity.key.length + 1}::bigint`,
      deleteById: `DELETE FROM ${table} t WHERE t.id = $1::text RETURNING ${returning}`,
      deleteByKey: `DELETE FROM ${table} t WHERE ${keyMatch} RETURNING ${returning}`,
      insert: `INSERT INTO ${table} AS t (${names}) VALUES (${values}) ON CONFLICT DO NOTHING RETURNING ${returning}`,
      updateBySequence: `UPDATE ${table} t SET ${updateAssignments.join(', ')} WHERE t.${q(SEQUENCE_COLUMN)} = ${sequenceParam} RETURNING ${returning}`,
      upsertByKey: `${upsertByKey} RETURNING ${returning}`,
      upsertByKeyQuiet: upsertByKey,
      allOfTenant: `SELECT ${returning} FROM ${table} t WHERE t.tenant = $1::text ORDER BY t.${q(SEQUENCE_COLUMN)}`,
    },
  };
}

const PLANS: Readonly<Record<EntityName, EntityPlan>> = Object.fromEntries(
  Object.values(PG_TABLE_SPECS).map((spec) => [spec.entity.name, buildPlan(spec)]),
) as Record<EntityName, EntityPlan>;

function paramsOf(values: readonly PgParam[]): SqlParams['values'] {
  return [...values];
}

export class EntityStore {
  constructor(
    private readonly session: TransactionSession,
    private readonly listOptions: ListSqlOptions,
  ) {}

  async get<E extends EntityName>(entity: E, ref: EntityRef): Promise<EntityMap[E] | null> {
    const plan = PLANS[entity];
    const { rows } =
      'id' in ref
        ? await this.session.query(plan.sql.selectById, [ref.id], true)
        : await this.session.query(plan.sql.selectByKey, completeKey(plan.spec, ref.key), true);
    return rows.length === 0 ? null : decode(plan, rows[0], 0);
  }

  /** Returns the record after the write. */
  async upsert<E extends EntityName>(entity: E, ref: EntityRef, fields: Partial<EntityMap[E]>): Promise<EntityMap[E]> {
    const plan = PLANS[entity];
    const given = encodeGiven(plan.spec, fields);
    const refKey = 'key' in ref ? completeKey(plan.spec, ref.key) : null;

    if (refKey !== null && given[plan.idIndex] === undefined && canUpsertInOneStatement(plan, refKey, given)) {
      const values = given.map((v) => v ?? null);
      plan.keyIndexes.forEach((column, i) => (values[column] = refKey[i]));
      values[plan.idIndex] = randomUUID();
      const { rows } = await this.#write(plan, values, () => this.session.query(plan.sql.upsertByKey, paramsOf(values), true));
      return decode(plan, rows[0] ?? fail(`${entity} vanished during upsert`), 0);
    }

    const existing = await this.#find(plan, ref);
    if (existing !== undefined) {
      const sequence = existing[0];
      const after = given.map((v, i) => v ?? (existing[i + 1] as PgParam));
      const keyChanges = plan.keyIndexes.some((column) => given[column] !== undefined && given[column] !== existing[column + 1]);
      if (keyChanges) {
        const newKey = plan.keyIndexes.map((column) => after[column]);
        const taken = await this.session.query(plan.sql.keyTakenByOther, [...newKey, sequence as string], true);
        if (taken.rowCount > 0) throw duplicate(plan, after);
      }
      const values = given.flatMap((v, i) => (i === plan.idIndex ? [] : [v ?? null]));
      const { rows } = await this.#write(plan, after, () => this.session.query(plan.sql.updateBySequence, [...paramsOf(values), sequence as string], true));
      return decode(plan, rows[0] ?? fail(`${entity} vanished during upsert`), 0);
    }

    // The ref's key fills the key columns; `fields` is written over it, as an update would.
    const values = given.map((v) => v ?? null);
    if (refKey !== null) plan.keyIndexes.forEach((column, i) => (values[column] = given[column] ?? refKey[i]));
    values[plan.idIndex] = 'id' in ref ? ref.id : (given[plan.idIndex] ?? randomUUID());
    for (const column of [...plan.keyIndexes, ...plan.requiredIndexes]) {
      if (values[column] === null) throw new Error(`cannot create ${entity}: ${plan.spec.columns[column].name} is required`);
    }
    if (typeof values[plan.idIndex] === 'string' && (values[plan.idIndex] as string).includes('\u0000')) {
      throw new TypeError('cannot store an id containing a NUL character');
    }
    const { rows } = await this.#write(plan, values, () => this.session.query(plan.sql.insert, paramsOf(values), true));
    // ON CONFLICT DO NOTHING returned nothing: the id or the natural key is taken.
    if (rows.length === 0) throw duplicate(plan, values);
    return decode(plan, rows[0], 0);
  }

  /**
   * The one-statement upsert by natural key (as upsert runs it, without RETURNING: building the
   * returned row cost a tenth of the settlement statement it is sent in, and nobody read it) for
   * the caller to send inside a larger statement; null when upsert would need more than one
   * statement. `duplicate` is the error to throw if the statement raises a unique violation.
   */
  upsertByKeyStatement<E extends EntityName>(
    entity: E,
    key: Readonly<Record<string, string>>,
    fields: Partial<EntityMap[E]>,
  ): { sql: string; params: PgParam[]; duplicate: () => DuplicateKeyError } | null {
    const plan = PLANS[entity];
    const given = encodeGiven(plan.spec, fields);
    const refKey = completeKey(plan.spec, key);
    if (given[plan.idIndex] !== undefined || !canUpsertInOneStatement(plan, refKey, given)) return null;
    const values = given.map((v) => v ?? null);
    plan.keyIndexes.forEach((column, i) => (values[column] = refKey[i]));
    values[plan.idIndex] = randomUUID();
    return { sql: plan.sql.upsertByKeyQuiet, params: values, duplicate: () => duplicate(plan, values) };
  }

  async delete<E extends EntityName>(entity: E, ref: EntityRef): Promise<EntityMap[E] | null> {
    const plan = PLANS[entity];
    const { rows } =
      'id' in ref
        ? await this.session.query(plan.sql.deleteById, [ref.id], true)
        : await this.session.query(plan.sql.deleteByKey, completeKey(plan.spec, ref.key), true);
    return rows.length === 0 ? null : decode(plan, rows[0], 0);
  }

  async list<E extends EntityName>(entity: E, query: ListQuery): Promise<EntityMap[E][]> {
    const plan = PLANS[entity];
    const { sql, params } = listSql(plan.spec, query, this.listOptions);
    const { rows } = await this.session.query(sql, params.values);
    return rows.map((row) => decode(plan, row, 0));
  }

  async count(entity: EntityName, filter: readonly Condition[]): Promise<number> {
    const { sql, params } = countSql(PG_TABLE_SPECS[entity], filter, this.listOptions);
    const { rows } = await this.session.query(sql, params.values);
    return decodeInteger(rows[0][0]);
  }

  /** Every record of a tenant in natural order (used to load rate indexes). */
  async allOfTenant<E extends EntityName>(entity: E, tenant: string): Promise<EntityMap[E][]> {
    const plan = PLANS[entity];
    const { rows } = await this.session.query(plan.sql.allOfTenant, [tenant], true);
    return rows.map((row) => decode(plan, row, 0));
  }

  async #find(plan: EntityPlan, ref: EntityRef): Promise<Row | undefined> {
    const { rows } =
      'id' in ref
        ? await this.session.query(plan.sql.findById, [ref.id], true)
        : await this.session.query(plan.sql.findByKey, completeKey(plan.spec, ref.key), true);
    return rows[0];
  }

  /**
   * Runs a write; a unique violation that still happens (a random id taken, say) becomes a
   * DuplicateKeyError, and the transaction stays marked failed, since PostgreSQL has aborted it.
   */
  async #write<T>(plan: EntityPlan, attempted: readonly (PgParam | undefined)[], run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (isUniqueViolation(error)) {
        const converted = duplicate(plan, attempted);
        this.session.recordFailure(error);
        throw converted;
      }
      throw error;
    }
  }
}

export function isUniqueViolation(error: unknown): boolean {
  return error instanceof Error && 'code' in error && error.code === '23505';
}

function duplicate(plan: EntityPlan, attempted: readonly (PgParam | undefined)[]): DuplicateKeyError {
  const key = Object.fromEntries(plan.keyIndexes.map((i) => [plan.spec.columns[i].name, attempted[i] ?? null]));
  return new DuplicateKeyError(plan.spec.entity.name, key);
}

function decode<E extends EntityName>(plan: EntityPlan, row: Row, offset: number): EntityMap[E] {
  return decodeRawRow(plan.spec.columns, row, offset) as unknown as EntityMap[E];
}

function fail(message: string): never {
  throw new Error(message);
}

function encodeGiven(spec: PgTableSpec, fields: Readonly<Record<string, unknown>>): GivenValues {
  return spec.columns.map((column) => {
    const value = fields[column.name];
    return value === undefined || value === null ? undefined : encodeValue(column.kind, value);
  });
}

/** The natural-key values of `key` in key order; throws when one is missing. */
function completeKey(spec: PgTableSpec, key: Readonly<Record<string, string>>): string[] {
  return spec.entity.key.map((name) => {
    const value = key[name];
    if (typeof value !== 'string') throw new Error(`incomplete key for ${spec.entity.name}: ${name} is missing`);
    // No stored key holds U+0000; a parameter could not even carry it.
    if (value.includes('\u0000')) throw new TypeError(`key field ${name} of ${spec.entity.name} contains a NUL character`);
    return value;
  });
}
