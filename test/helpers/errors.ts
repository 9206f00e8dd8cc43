import { expect } from 'vitest';
import { RollgateError, type ErrorCode } from '../../src/errors.js';

/** The RollgateError `work` rejects with; fails the test if it resolves or throws anything else. */
async function rejection(work: Promise<unknown>): Promise<RollgateError> {
  const err = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RollgateError);
  return err as RollgateError;
}

/** Asserts `work` rejects with a RollgateError of `code`, and returns it. */
export async function expectCode(work: Promise<unknown>, code: ErrorCode): Promise<RollgateError> {
  const err = await rejection(work);
  expect(err.code, err.message).toBe(code);
  return err;
}
