import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parseEventTime } from './event-time.js';
import { DEFAULT_MAX_FUTURE_SECONDS, DEFAULT_MAX_PAYLOAD_BYTES, type ColumnType, type RollupSpec, type SourceField } from './rollup-spec.js';

/** The JSON Schema of a rollup's source payload; checked in under schema/events/. */
export function eventJsonSchema(spec: RollupSpec): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  for (const field of spec.source.fields) properties[field.name] = fieldSchema(field);
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: `https://rollgate.dev/schema/events/${spec.source.topic}.json`,
    title: `${spec.source.topic} event`,
    description: `Payload of topic ${spec.source.topic}; message key is ${spec.source.keyFields.join(':')}.`,
    type: 'object',
    required: spec.source.fields.map((f) => f.name),
    properties,
    additionalProperties: true,
  };
}

const INTEGER_MAX: Partial<Record<ColumnType, number>> = { uint32: 4294967295, uint64: Number.MAX_SAFE_INTEGER, int64: Number.MAX_SAFE_INTEGER };

function fieldSchema(field: SourceField): Record<string, unknown> {
  const base = { description: field.description };
  switch (field.type) {
    case 'timestamp':
      return {
        ...base,
        anyOf: [
          { type: 'integer', minimum: 0, description: 'epoch milliseconds' },
          { type: 'string', format: 'date-time', description: 'ISO-8601' },
        ],
      };
    case 'string':
      // 255 keeps every string group column indexable in MySQL (utf8mb4 primary keys).
      return { ...base, type: 'string', minLength: 1, maxLength: 255 };
    case 'uint32':
    case 'uint64':
    case 'int64':
      return {
        ...base,
        type: 'integer',
        minimum: field.minimum ?? (field.type === 'int64' ? -Number.MAX_SAFE_INTEGER : 0),
        maximum: INTEGER_MAX[field.type],
      };
    case 'float64':
      return {
        ...base,
        type: 'number',
        ...(field.minimum === undefined ? {} : { minimum: field.minimum }),
        ...(field.maximum === undefined ? {} : { maximum: field.maximum }),
      };
  }
}

export interface DecodedEvent {
  timeMs: number;
  values: Record<string, string | number>;
}

/** Why an input message was not aggregated: the `reason` label of dead-letter metrics. */
export type DeadLetterReason = 'no_value' | 'too_large' | 'bad_json' | 'schema' | 'time_range' | 'key' | 'late';

export type DecodeResult = { ok: true; event: DecodedEvent } | { ok: false; kind: DeadLetterReason; reason: string };

// ajv-formats is CommonJS; its default export arrives wrapped under NodeNext.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

/**
 * Turns raw message bytes into a typed event, or a reason that names the
 * offending field. Event times are checked against the message's own
 * timestamp (not the wall clock), so a replay decides exactly as the first run.
 */
export function createEventDecoder(spec: RollupSpec): (raw: Buffer | string | null, messageTimestampMs?: number) => DecodeResult {
  const ajv = new Ajv({ allErrors: false, strict: true });
  addFormats(ajv, ['date-time']);
  const validate: ValidateFunction = ajv.compile(eventJsonSchema(spec));
  const maxBytes = spec.source.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  const maxFutureMs = (spec.source.maxFutureSeconds ?? DEFAULT_MAX_FUTURE_SECONDS) * 1000;
  const maxAgeMs = spec.sink.retentionDays * 86_400_000;
  const timeField = spec.source.timeField;
  return (raw, messageTimestampMs) => {
    if (raw === null) return { ok: false, kind: 'no_value', reason: 'message has no value' };
    const size = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length;
    if (size > maxBytes) return { ok: false, kind: 'too_large', reason: `payload: ${size} bytes is over the ${maxBytes}-byte limit` };
    let payload: unknown;
    try {
      payload = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
    } catch {
      return { ok: false, kind: 'bad_json', reason: 'value is not valid JSON' };
    }
    if (!validate(payload)) return { ok: false, kind: 'schema', reason: describe(validate.errors) };
    const record = payload as Record<string, unknown>;
    const timeMs = parseEventTime(record[timeField]);
    if (timeMs === undefined) return { ok: false, kind: 'schema', reason: `${timeField}: not a valid timestamp` };
    if (messageTimestampMs !== undefined && Number.isFinite(messageTimestampMs) && messageTimestampMs > 0) {
      if (timeMs > messageTimestampMs + maxFutureMs) {
        return { ok: false, kind: 'time_range', reason: `${timeField}: more than ${maxFutureMs / 1000} s ahead of the message timestamp` };
      }
      if (timeMs < messageTimestampMs - maxAgeMs) {
        return { ok: false, kind: 'time_range', reason: `${timeField}: older than the ${spec.sink.retentionDays}-day retention` };
      }
    }
    // The schema has checked that every source field is a string or a number, so the payload is the values
    // as it is: copying it field by field cost as much as the validation (bench/README.md, ingest profile).
    return { ok: true, event: { timeMs, values: record as Record<string, string | number> } };
  };
}

function describe(errors: ErrorObject[] | null | undefined): string {
  // A failed anyOf (only timestamps use one) reports each branch first; the anyOf itself says more.
  const anyOf = errors?.find((e) => e.keyword === 'anyOf');
  if (anyOf !== undefined) return `${fieldOf(anyOf)}: must be epoch milliseconds or an ISO-8601 date-time string`;
  const first = errors?.[0];
  if (first === undefined) return 'payload does not match the event schema';
  if (first.keyword === 'required') return `${String(first.params['missingProperty'])}: required`;
  return `${fieldOf(first)}: ${first.message ?? 'invalid'}`;
}

function fieldOf(error: ErrorObject): string {
  return error.instancePath.replace(/^\//, '').replaceAll('/', '.') || '(payload)';
}

/** The message key an event must carry: its key fields joined with `:`, so one series stays on one partition. */
export function messageKey(spec: RollupSpec, event: DecodedEvent): string {
  // A loop rather than map().join(): this runs once per consumed message.
  let key: string | undefined;
  for (const f of spec.source.keyFields) {
    const part = String(event.values[f] ?? '');
    key = key === undefined ? part : `${key}:${part}`;
  }
  return key ?? '';
}
