/**
 * A hashing worker module that fails every time it is loaded, for testing
 * how the pool copes with workers that can never start.
 *
 * @module
 */
throw new Error("Worker module fails to load on purpose");
