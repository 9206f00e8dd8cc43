import { RollgateError } from '../errors.js';

/** The DataService envelope (DESIGN.md): success and failure share one shape. */
export interface Envelope<T> {
  errCode: number;
  errMsg: string;
  requestId: string;
  data: T | null;
}

export function success<T>(requestId: string, data: T): Envelope<T> {
  return { errCode: 0, errMsg: 'success', requestId, data };
}

export function failure(requestId: string, error: RollgateError): Envelope<never> {
  return { errCode: error.errCode, errMsg: error.message, requestId, data: null };
}
