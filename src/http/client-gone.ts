import type { FastifyRequest } from 'fastify';

/**
 * The request failed because its client closed the connection while its body was being read (Node's `aborted`):
 * nobody is left to answer and nothing went wrong here, so it is no error to log.
 */
export function clientWentAway(request: FastifyRequest, error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return request.raw.destroyed && (code === 'ECONNRESET' || (error instanceof Error && error.message === 'aborted'));
}
