/**
 * Run by `main_test.ts` under the service's permission set: plays the part
 * of a host that calls the default export's `fetch` without a server, as
 * Deno Deploy does, and prints the answer as one JSON line. A test file
 * may not import `main.ts` (its import has effects a test cannot undo:
 * workers and a store that stay open); a process of its own can.
 *
 * @module
 */
import service from "../main.ts";

const response = await service.fetch(new Request("http://x/notsecret"));
const answer = {
  status: response.status,
  content_type: response.headers.get("content-type"),
  body: await response.text(),
};
Deno.stdout.writeSync(new TextEncoder().encode(`${JSON.stringify(answer)}\n`));
// The hashing workers would keep this process alive, as they keep a
// serving isolate alive; the answer is all this probe is for.
Deno.exit(0);
