import type { CdcOffset } from '../../core/cdc/offset.js';

export interface ChangeMessage {
  topic: string;
  key: string | null;
  value: string;
  headers: Record<string, string>;
}

/**
 * Where CDC writes change events and its own offset. The offset is stored
 * with the events it covers, in the same atomic write, so it can never
 * claim an event that did not reach the log, nor lag behind one that did.
 */
export interface ChangeLog {
  ensureTopics(topics: readonly string[], partitions: number): Promise<void>;
  /** Takes over from any earlier writer of the same name (fencing it off) and returns the offset stored last. */
  open(): Promise<CdcOffset | undefined>;
  /** Writes `messages` and, when given, `offset`: all of them or none. */
  write(messages: readonly ChangeMessage[], offset: CdcOffset | undefined): Promise<void>;
  /** After a failed write: a fresh writer, and the offset that is stored now (it tells whether the write landed). */
  recover(): Promise<CdcOffset | undefined>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
