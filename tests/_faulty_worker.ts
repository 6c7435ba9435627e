/**
 * A hashing worker for tests. It answers like the service's own worker,
 * except for two passwords: "crash the worker" makes it throw, as a worker
 * that dies in the middle of a request would, and "hold the worker" is
 * never answered, so that a test can keep the pool busy until it closes it.
 *
 * @module
 */
import "../src/password_worker.ts";
import type { HashRequest } from "../src/password_worker.ts";

type Listener = (event: MessageEvent<HashRequest>) => unknown;

const scope = self as unknown as { onmessage: Listener | null };
const answer = scope.onmessage;

scope.onmessage = (event) => {
  const { password } = event.data;
  if (password === "crash the worker") {
    throw new Error("Worker crashed on purpose");
  }
  if (password === "hold the worker") return;
  return answer?.(event);
};
