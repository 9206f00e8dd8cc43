import { describe, expect, it } from 'vitest';
import { ErrorCodes as serverCodes } from '../../../src/errors.js';
import { ErrorCodes, errorCodeName } from '../../../sdk/src/error-codes.js';

describe('SDK error codes', () => {
  it('are the gateway table of src/errors.ts, name for name (the SDK keeps its own copy, as it ships without the server)', () => {
    expect(ErrorCodes).toEqual(Object.fromEntries(Object.entries(serverCodes).map(([name, { errCode }]) => [name, errCode])));
  });

  it('name a numeric errCode, and say UNKNOWN for a code added after this SDK', () => {
    expect(errorCodeName(1400)).toBe('INVALID_PARAMETER');
    expect(errorCodeName(4101)).toBe('SIGNATURE_MISMATCH');
    expect(errorCodeName(9999)).toBe('UNKNOWN');
  });
});
