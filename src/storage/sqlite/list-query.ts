// Translation of the storage contract's conditions and list options into SQL over an entity
// table (aliased "t"). Field names are checked against the catalogue before they are spliced
// into SQL; values always travel as bound parameters.
import { isSortableField, type FieldKind } from '../../domain/entities.ts';
import type { Condition, ListQuery, ScalarValue } from '../storage.ts';
import type { SqlValue } from './codec.ts';
import { RUNNING_TABLE } from './schema.ts';
import { quoteIdentifier as q, SEQUENCE_COLUMN } from './sql-names.ts';
import type { TableSpec } from './table-spec.ts';

export interface SqlFragment {
  sql: string;
  params: SqlValue[];
}

const TEXT_KINDS: ReadonlySet<FieldKind> = new Set(['id', 'string', 'enum']);

// Own properties only: a field named "constructor" or "toString" must not reach Object.prototype.
function isCatalogueField(spec: TableSpec, field: string): boolean {
  return Object.hasOwn(spec.entity.fields, field);
}

function fieldKind(spec: TableSpec, field: string): FieldKind {
  const kind = isCatalogueField(spec, field) ? spec.entity.fields[field] : undefined;
  if (kind === undefined) throw new Error(`unknown field ${spec.entity.name}.${field} in a filter`);
  return kind;
}

function scalarParam(spec: TableSpec, field: string, value: ScalarValue): SqlValue {
  if (fieldKind(spec, field) === 'json') {
    throw new Error(`field ${spec.entity.name}.${field} holds a list and cannot be compared with a value`);
  }
  return typeof value === 'boolean' ? (value ? 1 : 0) : value;
}

function placeholders(count: number): string {
  return Array.from({ length: count }, () => '?').join(', ');
}

function conditionSql(spec: TableSpec, condition: Condition): SqlFragment {
  switch (condition.kind) {
    case 'eq': {
      const column = `t.${q(condition.field)}`;
      if (condition.value === null) {
        fieldKind(spec, condition.field);
        return { sql: `${column} IS NULL`, params: [] };
      }
      return { sql: `${column} = ?`, params: [scalarParam(spec, condition.field, condition.value)] };
    }
    case 'in': {
      if (condition.values.length === 0) {
        fieldKind(spec, condition.field);
        return { sql: '0', params: [] };
      }
      const params = condition.values.map((v) => scalarParam(spec, condition.field, v));
      return { sql: `t.${q(condition.field)} IN (${placeholders(params.length)})`, params };
    }
    case 'contains': {
      if (condition.fields.length === 0) return { sql: '0', params: [] };
      const needle = condition.text.toLowerCase();
      const parts = condition.fields.map((field) => {
        if (!TEXT_KINDS.has(fieldKind(spec, field))) throw new Error(`field ${spec.entity.name}.${field} is not text`);
        // instr() over a Unicode-aware lower-casing: a literal substring, with no wildcard
        // characters to escape, unlike LIKE.
        return `instr(unicode_lower(t.${q(field)}), ?) > 0`;
      });
      return { sql: `(${parts.join(' OR ')})`, params: condition.fields.map(() => needle) };
    }
    case 'overlaps': {
      if (fieldKind(spec, condition.field) !== 'json') throw new Error(`field ${spec.entity.name}.${condition.field} is not a list`);
      if (condition.values.length === 0) return { sql: '0', params: [] };
      return {
        sql: `EXISTS (SELECT 1 FROM json_each(t.${q(condition.field)}) WHERE json_each.value IN (${placeholders(condition.values.length)}))`,
        params: [...condition.values],
      };
    }
    case 'runningTransaction': {
      if (spec.entity.name !== 'account') throw new Error('the runningTransaction condition applies to accounts only');
      const tests = ['r.account_id = t.id', 'r.in_progress = 1'];
      const params: SqlValue[] = [];
      if (condition.outboundOnly) tests.push('r.inbound = 0');
      if (condition.begunAtOrBefore !== null) {
        tests.push('r.timestamp_begin <= ?');
        params.push(condition.begunAtOrBefore);
      }
      return { sql: `EXISTS (SELECT 1 FROM ${RUNNING_TABLE} r WHERE ${tests.join(' AND ')})`, params };
    }
    case 'none':
      return { sql: '0', params: [] };
  }
}

export function whereSql(spec: TableSpec, filter: readonly Condition[]): SqlFragment {
  if (filter.length === 0) return { sql: '', params: [] };
  const parts = filter.map((c) => conditionSql(spec, c));
  return { sql: ` WHERE ${parts.map((p) => p.sql).join(' AND ')}`, params: parts.flatMap((p) => p.params) };
}

/** ORDER BY: the sort field when sortable (nulls first ascending, last descending), then natural order. */
export function orderSql(spec: TableSpec, query: Pick<ListQuery, 'sortField' | 'ascending'>): string {
  const natural = `t.${q(SEQUENCE_COLUMN)} ASC`;
  if (query.sortField === null || !isCatalogueField(spec, query.sortField) || !isSortableField(spec.entity, query.sortField)) return ` ORDER BY ${natural}`;
  const direction = query.ascending ? 'ASC NULLS FIRST' : 'DESC NULLS LAST';
  return ` ORDER BY t.${q(query.sortField)} ${direction}, ${natural}`;
}

export function listSql(spec: TableSpec, query: ListQuery): SqlFragment {
  const where = whereSql(spec, query.filter);
  const offset = Math.max(0, Math.trunc(query.offset));
  const limit = query.limit === null ? -1 : Math.max(0, Math.trunc(query.limit));
  return {
    sql: `SELECT ${spec.columns.map((c) => `t.${q(c.name)}`).join(', ')} FROM ${q(spec.entity.table)} t${where.sql}${orderSql(spec, query)} LIMIT ? OFFSET ?`,
    params: [...where.params, limit, offset],
  };
}

export function countSql(spec: TableSpec, filter: readonly Condition[]): SqlFragment {
  const where = whereSql(spec, filter);
  return { sql: `SELECT count(*) FROM ${q(spec.entity.table)} t${where.sql}`, params: where.params };
}
