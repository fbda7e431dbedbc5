//! Providers tests, by topic, over the mock runtime with the real ModelRegistry.
