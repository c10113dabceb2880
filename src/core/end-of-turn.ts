// The end of a turn of the event loop: where what the server wrote to its peers during the turn
// goes out, one socket write per connection, after the work that must precede it.
//
// Output waits for the end of the turn (a setImmediate: Node's check phase), not for the end of
// the callback that wrote it (process.nextTick), for three reasons:
// - Everything routed to one connection during a turn leaves in one TLS record and one syscall.
// - Node's TLS layer finishes each write to the socket in a native immediate, which runs just
//   before the turn's JavaScript immediates. Writing after it, Node reuses the connection's
//   buffer for encrypted output; writing before it (as a nextTick does while the end of a TLS
//   handshake is still being sent), Node adds a second buffer of 16 KiB that the connection keeps
//   for good: 16 KiB of RSS per idle session, measured.
// - Storage that batches its writes (the message archive) commits them in a `beforeOutput` task,
//   so nothing leaves the server (a delivered message, a XEP-0198 <a/>) before what it implies
//   is on disk.
//
// One queue per process: a turn of the event loop belongs to the process, not to a server.

/** Something holding output back until the end of the turn (a stream with a corked socket). */
export interface Flushable {
  /** Writes out what is held back. Must not throw. */
  flushOutput(): void;
}

let tasks: Array<() => void> = [];
let spareTasks: Array<() => void> = [];
let targets: Flushable[] = [];
let spareTargets: Flushable[] = [];
let scheduled = false;

function schedule(): void {
  if (scheduled) return;
  scheduled = true;
  setImmediate(endTurn);
}

/**
 * Runs `task` at the end of this turn, before any output of the turn is written (and before
 * output that must leave early: see runBeforeOutputTasks). A task handles its own failures.
 */
export function beforeOutput(task: () => void): void {
  tasks.push(task);
  schedule();
}

/** Calls `target.flushOutput()` at the end of this turn, after the beforeOutput tasks. */
export function flushAtEndOfTurn(target: Flushable): void {
  targets.push(target);
  schedule();
}

/**
 * Runs the pending beforeOutput tasks now: for output that cannot wait for the end of the turn
 * (a socket being ended or handed to TLS), so that it, too, follows them.
 */
export function runBeforeOutputTasks(): void {
  if (tasks.length === 0) return;
  const running = tasks;
  tasks = spareTasks;
  let failure: unknown;
  for (let i = 0; i < running.length; i++) {
    try {
      running[i]!();
    } catch (err) {
      failure ??= err;
    }
  }
  running.length = 0;
  spareTasks = running;
  // A task's bug must not hold every connection's output back: the rest ran, now it is loud.
  if (failure !== undefined) throw failure;
}

function endTurn(): void {
  scheduled = false;
  let failure: unknown;
  try {
    runBeforeOutputTasks();
  } catch (err) {
    failure = err;
  }
  // What is written from here on belongs to the next turn.
  const flushing = targets;
  targets = spareTargets;
  for (let i = 0; i < flushing.length; i++) flushing[i]!.flushOutput();
  flushing.length = 0;
  spareTargets = flushing;
  if (failure !== undefined) throw failure;
}
