/** Tests run against real services, where config refuses to start without a master key. */
export const TEST_MASTER_KEY = 'test-master-key-0123456789abcdef';

/**
 * Tests send wrong credentials on purpose from 127.0.0.1, and gateways on the same Redis share the count of
 * wrong AppCodes per address: only the tests of that throttle run with a real limit.
 */
export const TEST_AUTH_FAILURES = '1000000';
