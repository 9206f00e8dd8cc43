/** Tests run against real services, where config refuses to start without a master key. */
export const TEST_MASTER_KEY = 'test-master-key-0123456789abcdef';
