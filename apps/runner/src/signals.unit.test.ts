import { EventEmitter } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import { recordInvocation, clearInvocation, resumeCommand, shellQuote } from './invocation';
import { SIGNAL_EXIT_CODES, watchStopSignals } from './signals';

/** A process stand-in: emits signals on demand and has a settable parent id. */
function fakeProcess(ppid = 4242) {
  const emitter = new EventEmitter() as EventEmitter & { ppid: number };
  emitter.ppid = ppid;
  return emitter as typeof emitter & Pick<NodeJS.Process, 'on' | 'off' | 'ppid'>;
}

describe('watchStopSignals', () => {
  it.each(Object.entries(SIGNAL_EXIT_CODES))('the first %s aborts with its exit code, the second exits at once', (name, code) => {
    const proc = fakeProcess();
    const exit = vi.fn();
    const logs: string[] = [];
    const w = watchStopSignals({ proc, exit, log: (m) => logs.push(m), parentPollMs: 0 });
    expect(w.signal.aborted).toBe(false);
    proc.emit(name);
    expect(w.signal.aborted).toBe(true);
    expect(w.signal.reason).toBe(name);
    expect(w.exitCode()).toBe(code);
    expect(exit).not.toHaveBeenCalled();
    proc.emit('SIGINT'); // any second signal: exit with the first one's code
    expect(exit).toHaveBeenCalledWith(code);
    expect(logs[0]).toMatch(new RegExp(`received ${name}; stopping after this step`));
    w.dispose();
    expect(proc.listenerCount(name)).toBe(0);
  });

  it('a parent that goes away stops the run as SIGTERM', async () => {
    const proc = fakeProcess(777);
    const logs: string[] = [];
    const w = watchStopSignals({ proc, exit: vi.fn(), log: (m) => logs.push(m), parentPollMs: 5 });
    await new Promise((r) => setTimeout(r, 20));
    expect(w.signal.aborted).toBe(false);
    proc.ppid = 1; // re-parented to init
    await vi.waitFor(() => expect(w.signal.aborted).toBe(true));
    expect(w.exitCode()).toBe(143);
    expect(logs[0]).toMatch(/the parent process \(777\) exited/);
    w.dispose();
  });
});

describe('resumeCommand', () => {
  it('repeats the recorded command line with --out and --resume, quoting what needs it', () => {
    recordInvocation(['train', 'configs/grpo.yaml', '--set', 'trainer.eval.k=[1, 2]'], { npm_lifecycle_event: 'rft' });
    expect(resumeCommand('runs/x', { configPath: 'ignored' })).toBe(
      "pnpm rft train configs/grpo.yaml --set 'trainer.eval.k=[1, 2]' --out runs/x --resume",
    );
    recordInvocation(['train', 'a.yaml', '--out', 'o', '--resume'], {});
    expect(resumeCommand('o', { configPath: 'a.yaml' })).toBe('rft train a.yaml --out o --resume');
    clearInvocation();
    expect(resumeCommand('o', { configPath: 'b.yaml', sets: ['seed=2'] })).toBe('rft train b.yaml --set seed=2 --out o --resume');
  });

  it('shellQuote leaves plain words alone and quotes the rest', () => {
    expect(shellQuote('configs/a.yaml')).toBe('configs/a.yaml');
    expect(shellQuote("it's")).toBe("'it'\\''s'");
  });
});
