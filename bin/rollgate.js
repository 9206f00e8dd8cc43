#!/usr/bin/env node
// The CLI runs from the compiled tree: type-graphql needs tsc's decorator metadata,
// and `npm ci` builds it through the `prepare` script.
import '../dist/src/cli/main.js';
