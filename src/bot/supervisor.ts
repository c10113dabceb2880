// Keeps the assistant running beside the server: `warbler start` with [bot] enabled = true runs
// `warbler bot` as a child process and restarts it when it dies, waiting longer after each quick
// death (1 s doubling to a minute; back to 1 s once a run has lasted a minute). A child of its
// own, not a part of the server: the assistant's model calls, memory and crashes stay out of
// the server's event loop and heap, and it talks to the server as any component does.
//
// The child is forked with an IPC channel that carries nothing: when the server dies without
// stopping it (kill -9), the channel closes and the child stops itself (see cli.ts).

import { type ChildProcess, fork } from 'node:child_process';
import type { Logger } from '../log.js';

export interface SupervisorOptions {
  /** The program to run (dist/src/cli.js) and its arguments (bot --config FILE). */
  readonly module: string;
  readonly args: readonly string[];
  /** The child's environment (the component secret travels here, never on the command line). */
  readonly env: NodeJS.ProcessEnv;
  readonly log: Logger;
  /** Default 1 s. */
  readonly initialBackoffMs?: number;
  /** Default 60 s. */
  readonly maxBackoffMs?: number;
  /** A run this long resets the backoff. Default 60 s. */
  readonly stableMs?: number;
  /** How long stop() waits after SIGTERM before SIGKILL. Default 5 s. */
  readonly stopTimeoutMs?: number;
}

export class BotSupervisor {
  private child: ChildProcess | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private failures = 0;
  /** How many times the child was started (the first start counts). */
  starts = 0;

  constructor(private readonly options: SupervisorOptions) {}

  /** The running child's process id, if one runs. */
  get pid(): number | undefined {
    return this.child?.exitCode === null ? this.child.pid : undefined;
  }

  start(): void {
    if (this.stopped || this.child !== undefined) return;
    const { module, args, env, log } = this.options;
    const startedAt = Date.now();
    this.starts++;
    const child = fork(module, [...args], { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child = child;
    log.info('assistant process started', { pid: child.pid });
    child.on('error', (err) => log.error('assistant process error', { error: err }));
    child.once('exit', (code, signal) => {
      if (this.child === child) this.child = undefined;
      if (this.stopped) return;
      const ranMs = Date.now() - startedAt;
      if (ranMs >= (this.options.stableMs ?? 60_000)) this.failures = 0;
      const initial = this.options.initialBackoffMs ?? 1000;
      const max = this.options.maxBackoffMs ?? 60_000;
      const delay = Math.min(max, initial * 2 ** Math.min(this.failures, 20));
      this.failures++;
      log.warn('assistant process exited; restarting', { code, signal, ranMs, inMs: delay });
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.start();
      }, delay);
      this.retryTimer.unref();
    });
  }

  /** Stops the child (SIGTERM, then SIGKILL after the timeout) and restarts it no more. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.options.log.warn('assistant process did not stop; killing it', { pid: child.pid });
        child.kill('SIGKILL');
      }, this.options.stopTimeoutMs ?? 5000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
    this.options.log.info('assistant process stopped');
  }
}
