import cliProgress from 'cli-progress';

export interface ProgressUpdate {
  step: number;
  metrics: Record<string, number>;
}

/** Shows training progress: a live bar on a terminal, one plain line per step otherwise. */
export interface Progress {
  start(totalSteps: number, startStep: number): void;
  update(update: ProgressUpdate): void;
  /** Prints a line without breaking the bar. */
  log(message: string): void;
  stop(): void;
}

function num(value: number | undefined, digits = 3): string {
  return value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(digits);
}

/** The one-line description of a step used by both modes. */
export function formatStepLine(step: number, total: number, metrics: Record<string, number>, etaSeconds?: number): string {
  const parts = [
    `step ${step}/${total}`,
    `reward ${num(metrics['reward/mean'])}`,
    `entropy ${num(metrics['entropy/exact'])}`,
  ];
  const passAt = Object.keys(metrics).filter((k) => /(^|\/)pass@\d+$/.test(k));
  for (const k of passAt) parts.push(`${k.slice(k.lastIndexOf('/') + 1)} ${num(metrics[k])}`);
  const temperature = metrics['aepo/temperature'] ?? metrics['dcpo/temperature'];
  if (temperature !== undefined) parts.push(`T ${num(temperature, 2)}`);
  if (metrics['time/step_s'] !== undefined) parts.push(`${num(metrics['time/step_s'], 1)}s/step`);
  if (etaSeconds !== undefined && Number.isFinite(etaSeconds)) parts.push(`eta ${formatDuration(etaSeconds)}`);
  return parts.join(' | ');
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** Plain one-line-per-step logs (CI, pipes, files). */
export function createLineProgress(write: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Progress {
  let total = 0;
  let first = 0;
  let started = 0;
  return {
    start(totalSteps, startStep) {
      total = totalSteps;
      first = startStep;
      started = Date.now();
    },
    update({ step, metrics }) {
      const done = step - first;
      const eta = done > 0 ? (((Date.now() - started) / 1000) * (total - step)) / done : undefined;
      write(formatStepLine(step, total, metrics, eta));
    },
    log: write,
    stop() {},
  };
}

/** A cli-progress bar with step, reward, entropy and ETA (for terminals). */
export function createBarProgress(stream: NodeJS.WriteStream = process.stderr): Progress {
  const bar = new cliProgress.SingleBar(
    {
      format: 'train [{bar}] {value}/{total} | reward {reward} | entropy {entropy} | ETA {eta_formatted}',
      stream,
      hideCursor: true,
      etaBuffer: 20,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  let active = false;
  return {
    start(totalSteps, startStep) {
      bar.start(totalSteps, startStep, { reward: '-', entropy: '-' });
      active = true;
    },
    update({ step, metrics }) {
      bar.update(step, { reward: num(metrics['reward/mean']), entropy: num(metrics['entropy/exact']) });
    },
    log(message) {
      if (active) {
        // Clear the bar's line, print, and let the next redraw put the bar back.
        stream.write(`\r\x1b[2K${message}\n`);
        bar.render();
      } else {
        stream.write(`${message}\n`);
      }
    },
    stop() {
      if (active) bar.stop();
      active = false;
    },
  };
}

/** A bar on a TTY, plain lines otherwise. */
export function createProgress(): Progress {
  return process.stderr.isTTY ? createBarProgress() : createLineProgress();
}
