// Translation of the storage contract's conditions and list options into PostgreSQL over an
// entity table (aliased "t"). Field names are checked against the catalogue before they are
// spliced into SQL; values always travel as bound, typed parameters. A value that no stored
// value of the column can equal (a word compared with a number, say) matches nothing, as in
// SQLite, instead of failing the cast.
import { isSortableField, type FieldKind } from '../../domain/entities.ts';
import type { Condition, ListQuery, ScalarValue } from '../storage.ts';
import { pgType, type PgParam } from './codec.ts';
import { quoteIdentifier as q, RUNNING_TABLE, SEQUENCE_COLUMN, SqlParams } from './sql.ts';
import type { PgTableSpec } from './table-spec.ts';

const TEXT_KINDS: ReadonlySet<FieldKind> = new Set(['id', 'string', 'enum']);
const INTEGER_KINDS: ReadonlySet<FieldKind> = new Set(['int', 'money', 'micros', 'date']);

export interface ListSqlOptions {
  /** Collation whose lower() folds every script (see index.ts); the columns themselves sort as "C". */
  foldCollation: string;
}

// Own properties only: a field named "constructor" or "toString" must not reach Object.prototype.
function isCatalogueField(spec: PgTableSpec, field: string): boolean {
  return Object.hasOwn(spec.entity.fields, field);
}

function fieldKind(spec: PgTableSpec, field: string): FieldKind {
  const kind = isCatalogueField(spec, field) ? spec.entity.fields[field] : undefined;
  if (kind === undefined) throw new Error(`unknown field ${spec.entity.name}.${field} in a filter`);
  return kind;
}

const NO_MATCH = Symbol('no match');

/** The value as the column's type, or NO_MATCH when no stored value can equal it. */
function comparable(kind: FieldKind, value: ScalarValue): PgParam | typeof NO_MATCH {
  if (TEXT_KINDS.has(kind)) {
    const text = typeof value === 'string' ? value : typeof value === 'boolean' ? (value ? '1' : '0') : String(value);
    return text.includes('\u0000') ? NO_MATCH : text;
  }
  if (INTEGER_KINDS.has(kind)) {
    const number = typeof value === 'boolean' ? (value ? 1 : 0) : typeof value === 'string' ? (/^-?\d+$/.test(value.trim()) ? Number(value) : NaN) : value;
    return Number.isSafeInteger(number) ? number : NO_MATCH;
  }
  // bool
  if (typeof value === 'boolean') return value;
  if (value === 1 || value === '1') return true;
  if (value === 0 || value === '0') return false;
  return NO_MATCH;
}

function scalarKind(spec: PgTableSpec, field: string): FieldKind {
  const kind = fieldKind(spec, field);
  if (kind === 'json') throw new Error(`field ${spec.entity.name}.${field} holds a list and cannot be compared with a value`);
  return kind;
}

function conditionSql(spec: PgTableSpec, condition: Condition, params: SqlParams, options: ListSqlOptions): string {
  switch (condition.kind) {
    case 'eq': {
      const column = `t.${q(condition.field)}`;
      if (condition.value === null) {
        fieldKind(spec, condition.field);
        return `${column} IS NULL`;
      }
      const kind = scalarKind(spec, condition.field);
      const value = comparable(kind, condition.value);
      return value === NO_MATCH ? 'FALSE' : `${column} = ${params.add(value, pgType(kind))}`;
    }
    case 'in': {
      const kind = condition.values.length === 0 ? fieldKind(spec, condition.field) : scalarKind(spec, condition.field);
      const values = condition.values.map((v) => comparable(kind, v)).filter((v): v is PgParam => v !== NO_MATCH);
      if (values.length === 0) return 'FALSE';
      return `t.${q(condition.field)} = ANY(${params.add(values, `${pgType(kind)}[]`)})`;
    }
    case 'contains': {
      if (condition.fields.length === 0) return 'FALSE';
      for (const field of condition.fields) {
        if (!TEXT_KINDS.has(fieldKind(spec, field))) throw new Error(`field ${spec.entity.name}.${field} is not text`);
      }
      // No stored text holds U+0000 (PostgreSQL refuses it), and the parameter could not carry it.
      if (condition.text.includes('\u0000')) return 'FALSE';
      const needle = params.add(condition.text.toLowerCase(), 'text');
      // strpos() over a lower-casing that knows every script: a literal substring, with no
      // wildcard characters to escape, unlike LIKE.
      const parts = condition.fields.map((field) => `strpos(lower(t.${q(field)} COLLATE ${q(options.foldCollation)}), ${needle}) > 0`);
      return `(${parts.join(' OR ')})`;
    }
    case 'overlaps': {
      if (fieldKind(spec, condition.field) !== 'json') throw new Error(`field ${spec.entity.name}.${condition.field} is not a list`);
      if (condition.values.length === 0) return 'FALSE';
      return jsonListOverlaps(`t.${q(condition.field)}`, params.add([...condition.values], 'text[]'));
    }
    case 'runningTransaction': {
      if (spec.entity.name !== 'account') throw new Error('the runningTransaction condition applies to accounts only');
      const tests = ['r.account_id = t.id', 'r.in_progress'];
      if (condition.outboundOnly) tests.push('NOT r.inbound');
      if (condition.begunAtOrBefore !== null) tests.push(`r.timestamp_begin <= ${params.add(condition.begunAtOrBefore, 'bigint')}`);
      return `EXISTS (SELECT 1 FROM ${RUNNING_TABLE} r WHERE ${tests.join(' AND ')})`;
    }
    case 'none':
      return 'FALSE';
  }
}

/** SQL testing whether the json list `column` shares an element with the text[] `placeholder`. */
export function jsonListOverlaps(column: string, placeholder: string): string {
  // CASE keeps json_array_elements_text away from a stored value that is not a list.
  return (
    `CASE WHEN json_typeof(${column}) = 'array' THEN ` +
    `EXISTS (SELECT 1 FROM json_array_elements_text(${column}) AS element(value) WHERE element.value = ANY(${placeholder})) ` +
    'ELSE FALSE END'
  );
}

export function whereSql(spec: PgTableSpec, filter: readonly Condition[], params: SqlParams, options: ListSqlOptions): string {
  if (filter.length === 0) return '';
  return ` WHERE ${filter.map((c) => conditionSql(spec, c, params, options)).join(' AND ')}`;
}

/** ORDER BY: the sort field when sortable (nulls first ascending, last descending), then natural order. */
export function orderSql(spec: PgTableSpec, query: Pick<ListQuery, 'sortField' | 'ascending'>): string {
  const natural = `t.${q(SEQUENCE_COLUMN)} ASC`;
  if (query.sortField === null || !isCatalogueField(spec, query.sortField) || !isSortableField(spec.entity, query.sortField)) return ` ORDER BY ${natural}`;
  const direction = query.ascending ? 'ASC NULLS FIRST' : 'DESC NULLS LAST';
  return ` ORDER BY t.${q(query.sortField)} ${direction}, ${natural}`;
}

export function columnList(spec: PgTableSpec, alias = 't'): string {
  return spec.columns.map((c) => `${alias}.${q(c.name)}`).join(', ');
}

export function listSql(spec: PgTableSpec, query: ListQuery, options: ListSqlOptions): { sql: string; params: SqlParams } {
  const params = new SqlParams();
  const where = whereSql(spec, query.filter, params, options);
  const order = orderSql(spec, query);
  const limit = query.limit === null ? '' : ` LIMIT ${params.add(wholeCount(query.limit), 'bigint')}`;
  const offset = ` OFFSET ${params.add(wholeCount(query.offset), 'bigint')}`;
  return { sql: `SELECT ${columnList(spec)} FROM ${q(spec.entity.table)} t${where}${order}${limit}${offset}`, params };
}

function wholeCount(value: number): number {
  return Number.isFinite(value) ? Math.min(Number.MAX_SAFE_INTEGER, Math.max(0, Math.trunc(value))) : 0;
}

export function countSql(spec: PgTableSpec, filter: readonly Condition[], options: ListSqlOptions): { sql: string; params: SqlParams } {
  const params = new SqlParams();
  const where = whereSql(spec, filter, params, options);
  return { sql: `SELECT count(*) FROM ${q(spec.entity.table)} t${where}`, params };
}
