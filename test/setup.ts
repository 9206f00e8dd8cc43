// Shared test setup: loaded by vitest before every test file.
import 'reflect-metadata';
