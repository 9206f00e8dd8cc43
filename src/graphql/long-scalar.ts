import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';

const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

/** A 64-bit integer (Int64 or UInt64) from a number, bigint or string of digits, or undefined. */
function integerOf(value: unknown): bigint | undefined {
  let n: bigint | undefined;
  if (typeof value === 'bigint') n = value;
  else if (typeof value === 'number' && Number.isSafeInteger(value)) n = BigInt(value);
  else if (typeof value === 'string' && /^-?\d{1,20}$/.test(value.trim())) n = BigInt(value.trim());
  return n !== undefined && n >= INT64_MIN && n <= UINT64_MAX ? n : undefined;
}

/** A number when JSON carries it exactly, its digits otherwise. */
function output(n: bigint): number | string {
  return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n.toString();
}

/**
 * 64-bit integers of published APIs (LONG parameters and columns). JSON numbers lose digits past 2^53, where
 * UInt64 counters and ids live: such a value travels as its decimal digits in a string, every other one as a
 * number, so the common case reads as before. Arguments take either form.
 */
export const GraphQLLong = new GraphQLScalarType<number | string, number | string>({
  name: 'Long',
  description: 'A 64-bit integer (Int64 or UInt64): a JSON number when exact (|n| ≤ 2^53 − 1), otherwise a string of its decimal digits.',
  serialize(value) {
    const n = integerOf(value);
    if (n === undefined) throw new GraphQLError(`Long cannot represent ${String(value)}`);
    return output(n);
  },
  parseValue(value) {
    const n = integerOf(value);
    if (n === undefined) throw new GraphQLError('a Long is a 64-bit integer, as a number or a string of digits');
    return output(n);
  },
  parseLiteral(ast) {
    const n = ast.kind === Kind.INT || ast.kind === Kind.STRING ? integerOf(ast.value) : undefined;
    if (n === undefined) throw new GraphQLError('a Long is a 64-bit integer, as a number or a string of digits', { nodes: ast });
    return output(n);
  },
});
