/**
 * The body of a password-hashing worker: it answers hash and verify
 * requests, so that bcrypt's CPU time is spent off the thread that serves
 * requests.
 *
 * @module
 */
import { setPriority } from "node:os";
import { createPasswordHasher } from "./passwords.ts";

/** The work a worker can do. */
export type HashJob =
  | { op: "hash"; password: string; cost: number }
  | { op: "verify"; password: string; hash: string };

/** A request to a worker. */
export type HashRequest = HashJob & { id: number };

/** A worker's answer to one request. */
export type HashReply =
  | { id: number; ok: true; value: string | boolean }
  | { id: number; ok: false; message: string };

const scope = self as unknown as {
  onmessage: ((event: MessageEvent<HashRequest>) => void) | null;
  postMessage(reply: HashReply): void;
};

async function answer(request: HashRequest): Promise<HashReply> {
  try {
    const value = request.op === "hash"
      ? await createPasswordHasher({ cost: request.cost }).hash(
        request.password,
      )
      : await createPasswordHasher({ cost: 4 }).verify(
        request.password,
        request.hash,
      );
    return { id: request.id, ok: true, value };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { id: request.id, ok: false, message };
  }
}

/** How much lower than the serving thread a worker runs: a nice value. */
export const WORKER_NICENESS = 10;

// Where a worker and the serving thread want the same core, the serving
// thread should win: token checks stay fast while logins wait their turn.
// On Linux a priority set for pid 0 applies to the calling thread alone;
// elsewhere it would slow the whole process, so it is left as it is.
function yieldToServingThread(): void {
  if (Deno.build.os !== "linux") return;
  const descriptor = { name: "sys", kind: "setPriority" } as const;
  if (Deno.permissions.querySync(descriptor).state !== "granted") return;
  try {
    setPriority(0, WORKER_NICENESS);
  } catch {
    // A system that refuses still hashes, only at the usual priority.
  }
}

yieldToServingThread();

scope.onmessage = async (event) => {
  scope.postMessage(await answer(event.data));
};
