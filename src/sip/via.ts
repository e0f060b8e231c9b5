// The branch parameter of a Via value: the transaction identifier of the top-most hop.
import { findParameter, firstElement } from './value-syntax.ts';

/** Branch of the first via-parm in `value` (a Via header may list several hops). */
export function viaBranch(value: string): string | null {
  const hop = firstElement(value);
  const semi = hop.indexOf(';');
  if (semi === -1) return null;
  const branch = findParameter(hop.slice(semi), 'branch');
  return branch === null || branch.length === 0 ? null : branch;
}
