/**
 * The body of a password-hashing worker: it answers hash and verify
 * requests, so that bcrypt's CPU time is spent off the thread that serves
 * requests.
 *
 * @module
 */
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

scope.onmessage = async (event) => {
  scope.postMessage(await answer(event.data));
};
