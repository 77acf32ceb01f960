// Following a run of the scheduler's workers (a podcast check, a routine run
// now): the service answers 202 with the run queued, and the page asks
// GET /api/runs/{id} until it has ended. Shared by the Podcasts and Routines pages.

import { api } from "../api.js";

export const DONE = new Set(["ok", "partial", "failed"]);
const FIRST_MS = 400;
const EVERY_MS = 1500;
const GIVE_UP_MS = 15 * 60 * 1000;

/** A follower for one page: `wait(runId)` → the ended run, or null once `stop()` was called (the page left). */
export function runFollower() {
  const sleepers = new Set();
  let stopped = false;

  function sleep(ms) {
    return new Promise((resolve) => {
      const wake = () => { window.clearTimeout(timer); sleepers.delete(wake); resolve(); };
      const timer = window.setTimeout(wake, ms);
      sleepers.add(wake);
    });
  }

  async function wait(runId) {
    const started = Date.now();
    for (let n = 0; ; n += 1) {
      await sleep(n ? EVERY_MS : FIRST_MS);
      if (stopped) return null;
      let run;
      try {
        run = await api(`api/runs/${encodeURIComponent(runId)}`);
      } catch (err) {
        if (err.status === 401) return null;
        throw err;
      }
      if (DONE.has(run.status)) return run;
      if (Date.now() - started > GIVE_UP_MS) throw new Error("it is taking very long; look again later");
    }
  }

  function stop() {
    stopped = true;
    for (const wake of [...sleepers]) wake();
  }

  return { wait, stop };
}
