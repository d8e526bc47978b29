/**
 * Import progress, worked out from the `ingest` events: where each batch is, what each document is doing,
 * and how long is left. Plain TypeScript with no Svelte in it: the library store hands it every event and
 * takes a snapshot for the screen a few times a second, so a fast stream of events costs little.
 *
 * A batch is a job of the indexing queue (its id there, kept across restarts). It names only the paths the
 * person gave (`queued`, `scanned`); a file inside a folder becomes known at its first `stage` or `document`
 * event. Until then a document of the library under one of those paths counts as queued (see
 * `ProgressSnapshot.roots`), except under a background job's paths: a watched folder's sync mostly finds its
 * files unchanged, so they are not shown as queued.
 *
 * The queue's own state (`queue_state` at start, then `queue` events: {@link IngestTracker.applyQueue}) fills
 * in what the events cannot say: the jobs left from a previous run (their `queued` was sent before the window
 * listened), jobs queued by the app itself, whether a job is in the background and what kind it is, and the
 * waiting jobs a cancel dropped.
 */
import type { DocOutcome, IngestNotice, IngestStage, Job, JobKind, QueueView } from '../ipc';
import { formatOfPath } from './format';

/** What a document is doing in an import, or how its import ended. */
export type ImportStatus = 'queued' | IngestStage | Exclude<DocOutcome['status'], 'moved'>;

/** A document an import has reached (or, for a file the person gave by name, queued). */
export interface ImportDoc {
  path: string;
  batch: number;
  status: ImportStatus;
  /** Why it failed. */
  reason: string | null;
  /** From its `document` event. */
  bytes: number | null;
  chunks: number | null;
  pages: number | null;
}

export interface OutcomeCounts {
  indexed: number;
  unchanged: number;
  failed: number;
  removed: number;
  moved: number;
}

/** What a job does, when the queue has said so (null until then: an import, as far as the UI knows). */
export type JobKindName = JobKind['kind'];

/** The import running now (or, when none runs, the next one waiting to start). */
export interface ActiveImport {
  batch: number;
  /** A sync of watched folders or an automatic retry, not something the person just asked for. */
  background: boolean;
  kind: JobKindName | null;
  /** `queued`: waiting for its turn, its files not counted yet. */
  phase: 'queued' | 'running';
  /** The files and folders as given. */
  roots: readonly string[];
  /** Files to look at and their bytes; null until the batch has started. */
  files: number | null;
  bytes: number | null;
  doneFiles: number;
  doneBytes: number;
  counts: OutcomeCounts;
  /** The document being worked on (the one embedding, else the last one being read). */
  current: { path: string; stage: IngestStage } | null;
  /** Bytes done per second, smoothed; null until a first measure. */
  rate: number | null;
  /** Seconds left at that rate; null while unknown. */
  remaining: number | null;
  /** 0 to 1 (by bytes, else by files); null while unknown. */
  fraction: number | null;
}

/** How the latest import that ran to its end ended. */
export interface FinishedImport {
  batch: number;
  background: boolean;
  kind: JobKindName | null;
  counts: OutcomeCounts;
  cancelled: boolean;
  seconds: number;
}

/** The latest import that could not run at all. */
export interface FailedImport {
  batch: number;
  /** The error's kind (`model_missing`, `io`, …). */
  kind: string;
  message: string;
  /** When the job runs again (ms since the epoch); null: it will not (set aside after five tries, or cancelled). */
  retryAt: number | null;
  background: boolean;
  job: JobKindName | null;
}

export interface ProgressSnapshot {
  active: ActiveImport | null;
  /** Imports waiting behind the active one. */
  waiting: number;
  /** Whether any import is queued or running. */
  busy: boolean;
  /** Documents the imports have reached, by path. */
  docs: ReadonlyMap<string, ImportDoc>;
  /** The paths of the imports not ended yet: a library document under one is queued. */
  roots: readonly string[];
  finished: FinishedImport | null;
  failed: FailedImport | null;
}

export const IDLE: ProgressSnapshot = {
  active: null,
  waiting: 0,
  busy: false,
  docs: new Map(),
  roots: [],
  finished: null,
  failed: null,
};

/** Rate samples closer together than this are merged (seconds). */
const MIN_SAMPLE_S = 0.5;
/** How quickly the smoothed rate follows a change of pace (seconds). */
const SMOOTHING_S = 8;

type Phase = 'queued' | 'running' | 'ended';

interface Batch {
  batch: number;
  phase: Phase;
  background: boolean;
  kind: JobKindName | null;
  roots: string[];
  files: number | null;
  bytes: number | null;
  doneFiles: number;
  doneBytes: number;
  counts: OutcomeCounts;
  current: { path: string; stage: IngestStage } | null;
  /** The last document that started being read. */
  reading: string | null;
  rate: number | null;
  sampleMs: number;
  sampleBytes: number;
}

function isOutcome(status: ImportStatus): boolean {
  return status !== 'queued' && status !== 'extracting' && status !== 'embedding';
}

/** The paths a job is about, as `queued` names them. */
export function jobPaths(job: Job): string[] {
  return job.kind === 'sync_folder' ? [job.folder] : Array.isArray(job.paths) ? [...job.paths] : [];
}

/** Whether a job waits out its delay after failing (its error was reported; it is not an import to show). */
export function isDeferred(job: Job, running: number | null, now: number): boolean {
  return job.id !== running && job.attempts > 0 && job.not_before_ms > now;
}

/**
 * A background job that ended having changed nothing (no document indexed, moved, removed or failed, not
 * cancelled): it leaves no summary, and nothing in the library to read again.
 */
export function isQuietEnd(notice: IngestNotice): boolean {
  return (
    notice.event === 'finished' &&
    notice.background === true &&
    !notice.cancelled &&
    notice.indexed + notice.failed + notice.removed + (notice.moved ?? 0) === 0
  );
}

function newBatch(batch: number, phase: Phase, now: number, from?: Batch): Batch {
  return {
    batch,
    phase,
    background: from?.background ?? false,
    kind: from?.kind ?? null,
    roots: [],
    files: null,
    bytes: null,
    doneFiles: 0,
    doneBytes: 0,
    counts: { indexed: 0, unchanged: 0, failed: 0, removed: 0, moved: 0 },
    current: null,
    reading: null,
    rate: null,
    sampleMs: now,
    sampleBytes: 0,
  };
}

export class IngestTracker {
  #batches = new Map<number, Batch>();
  #docs = new Map<string, ImportDoc>();
  #finished: FinishedImport | null = null;
  #failed: FailedImport | null = null;
  /** The highest batch number that has ended. */
  #lastEnded = 0;
  /** The queue's state was taken in once (the jobs left from a previous run are known). */
  #queueSeen = false;
  #version = 0;

  /** Changes whenever what the imports say about documents (or which paths they cover) may have changed. */
  get version(): number {
    return this.#version;
  }

  /** The highest batch number that has ended (finished or failed); 0 when none has. */
  get lastEnded(): number {
    return this.#lastEnded;
  }

  /** Whether any import is queued or running. */
  get busy(): boolean {
    for (const b of this.#batches.values()) if (b.phase !== 'ended') return true;
    return false;
  }

  /**
   * Takes in one event. Returns true for the events worth showing at once (an import queued, started or
   * ended); per-document events can wait for the next snapshot.
   */
  apply(notice: IngestNotice, now = Date.now()): boolean {
    this.#version += 1;
    switch (notice.event) {
      case 'queued': {
        let b = this.#batch(notice.batch, 'queued', now);
        // An ended job queued again (failed, now due) starts over.
        if (b.phase === 'ended') b = this.#restart(b, 'queued', now);
        b.background = notice.background ?? false;
        b.roots = [...notice.paths];
        this.#queueFiles(b);
        return true;
      }
      case 'scanned': {
        let b = this.#batch(notice.batch, 'running', now);
        // A job that failed and runs again starts over.
        if (b.phase === 'ended') b = this.#restart(b, 'running', now);
        b.phase = 'running';
        b.roots = [...notice.paths];
        b.files = notice.files;
        b.bytes = notice.bytes;
        b.sampleMs = now;
        b.sampleBytes = b.doneBytes;
        this.#queueFiles(b);
        return true;
      }
      case 'stage': {
        const b = this.#batch(notice.batch, 'running', now);
        if (b.phase === 'queued') b.phase = 'running';
        const doc = this.#docs.get(notice.path);
        // A stage never undoes how this batch already ended for the document.
        if (!(doc && doc.batch === notice.batch && isOutcome(doc.status))) {
          this.#docs.set(notice.path, {
            path: notice.path,
            batch: notice.batch,
            status: notice.stage,
            reason: null,
            bytes: doc?.bytes ?? null,
            chunks: null,
            pages: null,
          });
        }
        if (notice.stage === 'extracting') {
          b.reading = notice.path;
          if (b.current === null || b.current.stage === 'extracting') b.current = { path: notice.path, stage: 'extracting' };
        } else {
          b.current = { path: notice.path, stage: 'embedding' };
        }
        return false;
      }
      case 'document': {
        const b = this.#batch(notice.batch, 'running', now);
        if (b.phase === 'queued') b.phase = 'running';
        const outcome = notice.outcome;
        // A moved file is an indexed document at its new path, and gone from its old one.
        this.#docs.set(notice.path, {
          path: notice.path,
          batch: notice.batch,
          status: outcome.status === 'moved' ? 'indexed' : outcome.status,
          reason: outcome.status === 'failed' ? outcome.reason : null,
          bytes: notice.bytes,
          chunks: outcome.status === 'indexed' || outcome.status === 'moved' ? outcome.chunks : null,
          pages: outcome.status === 'indexed' ? outcome.pages : null,
        });
        if (outcome.status === 'moved') {
          this.#docs.set(outcome.from, {
            path: outcome.from,
            batch: notice.batch,
            status: 'removed',
            reason: null,
            bytes: 0,
            chunks: null,
            pages: null,
          });
        }
        if (b.current?.path === notice.path) {
          // The next document being read, if any, is what the import is doing now.
          const next = b.reading && b.reading !== notice.path ? this.#docs.get(b.reading) : undefined;
          b.current = next?.status === 'extracting' ? { path: next.path, stage: 'extracting' } : null;
        }
        b.doneFiles += 1;
        b.doneBytes += notice.bytes;
        b.counts[outcome.status] += 1;
        this.#sample(b, now);
        return false;
      }
      case 'finished': {
        const b = this.#batch(notice.batch, 'ended', now);
        const background = notice.background ?? b.background;
        this.#end(b);
        if (this.#failed?.batch === notice.batch) this.#failed = null;
        if (isQuietEnd(notice)) {
          // A watched folder found as it was, a retry that found nothing: no summary, and no document of
          // it left to show (each was unchanged, as the library already says).
          for (const [path, doc] of this.#docs) if (doc.batch === notice.batch) this.#docs.delete(path);
          return true;
        }
        this.#finished = {
          batch: notice.batch,
          background,
          kind: b.kind,
          counts: {
            indexed: notice.indexed,
            unchanged: notice.unchanged,
            failed: notice.failed,
            removed: notice.removed,
            moved: notice.moved ?? 0,
          },
          cancelled: notice.cancelled,
          seconds: notice.seconds,
        };
        // An older job's error goes with it, unless that job is still to be tried again.
        if (this.#failed && this.#failed.batch < notice.batch && this.#failed.retryAt === null) this.#failed = null;
        return true;
      }
      case 'error': {
        const b = this.#batch(notice.batch, 'ended', now);
        this.#end(b);
        this.#failed = {
          batch: notice.batch,
          kind: notice.kind,
          message: notice.message,
          retryAt: notice.retry_at_ms ?? null,
          background: b.background,
          job: b.kind,
        };
        if (this.#finished && this.#finished.batch < notice.batch) this.#finished = null;
        return true;
      }
    }
  }

  /**
   * Takes in the queue's state (`queue_state`, `queue` events): each job waiting or running that no event
   * told of yet is shown as queued (or running), in the queue's order, with its paths; what the queue says
   * about a known job (background, kind, running) is kept; a job still waiting here that the queue no longer
   * holds was dropped (a cancel) and ends quietly. A job waiting out its delay after failing is not an import
   * in progress: the first time (at start, when its error event was missed), its last error is shown, with when
   * it runs again, unless another error is.
   */
  applyQueue(view: QueueView, now = Date.now()): void {
    this.#version += 1;
    const first = !this.#queueSeen;
    this.#queueSeen = true;
    const jobs = Array.isArray(view.jobs) ? view.jobs : [];
    const running = view.running ?? null;
    const held = new Set<number>();
    for (const job of jobs) {
      held.add(job.id);
      const background = job.priority === 'background';
      let b = this.#batches.get(job.id);
      if (isDeferred(job, running, now)) {
        if (first && !b && this.#failed === null && job.last_error) {
          this.#failed = {
            batch: job.id,
            kind: 'job_failed',
            message: job.last_error,
            retryAt: job.not_before_ms,
            background,
            job: job.kind,
          };
        }
        continue;
      }
      const isRunning = job.id === running;
      if (!b) {
        b = newBatch(job.id, isRunning ? 'running' : 'queued', now);
        b.roots = jobPaths(job);
      } else if (b.phase === 'ended') {
        // Only a job running now is taken up again (a view a moment old may still list one that has ended).
        if (!isRunning) continue;
        b = this.#restart(b, 'running', now);
        b.roots = jobPaths(job);
      }
      b.background = background;
      b.kind = job.kind;
      if (isRunning && b.phase === 'queued') b.phase = 'running';
      this.#batches.set(job.id, b);
      this.#queueFiles(b);
    }
    for (const b of this.#batches.values()) {
      if (b.phase === 'queued' && !held.has(b.batch)) this.#end(b);
    }
  }

  /**
   * Forgets the documents of imports up to batch `upTo` once the library has been read again after they
   * ended (their stored status now says the same). A failed file the library does not hold (`known` says
   * which paths it holds) stays listed with its reason until the summary is dismissed.
   */
  settle(upTo: number, known: (path: string) => boolean): void {
    this.#version += 1;
    for (const [path, doc] of this.#docs) {
      const b = this.#batches.get(doc.batch);
      if (doc.batch > upTo || (b && b.phase !== 'ended')) continue;
      if (doc.status === 'failed' && !known(path)) continue;
      this.#docs.delete(path);
    }
    for (const [n, b] of this.#batches) if (b.phase === 'ended' && n <= upTo) this.#batches.delete(n);
  }

  /** Puts away the latest summary or error, and the failed files listed only because of it. */
  dismiss(): void {
    this.#version += 1;
    this.#finished = null;
    this.#failed = null;
    for (const [path, doc] of this.#docs) {
      const b = this.#batches.get(doc.batch);
      if (!b || b.phase === 'ended') this.#docs.delete(path);
    }
  }

  snapshot(now = Date.now()): ProgressSnapshot {
    let active: Batch | null = null;
    let open = 0;
    const roots: string[] = [];
    for (const b of this.#batches.values()) {
      if (b.phase === 'ended') continue;
      open += 1;
      if (!b.background) roots.push(...b.roots);
      // The running one, else the one to run next: the person's jobs before background ones, then by id.
      if (
        active === null ||
        (b.phase === 'running' && active.phase !== 'running') ||
        (b.phase === active.phase && (Number(b.background) - Number(active.background) || b.batch - active.batch) < 0)
      ) {
        active = b;
      }
    }
    return {
      active: active ? this.#describe(active, now) : null,
      waiting: Math.max(0, open - 1),
      busy: open > 0,
      docs: new Map(this.#docs),
      roots,
      finished: this.#finished,
      failed: this.#failed,
    };
  }

  #batch(n: number, phase: Phase, now: number): Batch {
    let b = this.#batches.get(n);
    if (!b) {
      b = newBatch(n, phase, now);
      this.#batches.set(n, b);
    }
    return b;
  }

  /** A batch that ended begins again (a job that failed runs again): what it did before is forgotten. */
  #restart(b: Batch, phase: Phase, now: number): Batch {
    const fresh = newBatch(b.batch, phase, now, b);
    fresh.roots = b.roots;
    this.#batches.set(b.batch, fresh);
    return fresh;
  }

  /** The files given by name are queued (a folder's files become known one by one); not for background jobs. */
  #queueFiles(b: Batch): void {
    if (b.background) return;
    for (const path of b.roots) {
      if (formatOfPath(path) === null) continue;
      const doc = this.#docs.get(path);
      if (doc) {
        const other = this.#batches.get(doc.batch);
        // Another import still working on it keeps its status until it ends.
        if (doc.batch !== b.batch && other && other.phase !== 'ended') continue;
        if (doc.batch === b.batch && doc.status !== 'queued') continue;
      }
      this.#docs.set(path, {
        path,
        batch: b.batch,
        status: 'queued',
        reason: null,
        bytes: null,
        chunks: null,
        pages: null,
      });
    }
  }

  #end(b: Batch): void {
    b.phase = 'ended';
    b.current = null;
    this.#lastEnded = Math.max(this.#lastEnded, b.batch);
    // What an ended import had not reached yet is no longer in progress.
    for (const [path, doc] of this.#docs) {
      if (doc.batch === b.batch && !isOutcome(doc.status)) this.#docs.delete(path);
    }
  }

  /** Updates the smoothed rate: an average that forgets the past over about `SMOOTHING_S` seconds. */
  #sample(b: Batch, now: number): void {
    const dt = (now - b.sampleMs) / 1000;
    if (dt < MIN_SAMPLE_S) return;
    const instant = (b.doneBytes - b.sampleBytes) / dt;
    b.rate = b.rate === null ? instant : b.rate + (1 - Math.exp(-dt / SMOOTHING_S)) * (instant - b.rate);
    b.sampleMs = now;
    b.sampleBytes = b.doneBytes;
  }

  #describe(b: Batch, now: number): ActiveImport {
    let fraction: number | null = null;
    if (b.bytes !== null && b.bytes > 0) fraction = Math.min(1, b.doneBytes / b.bytes);
    else if (b.files !== null) fraction = b.files > 0 ? Math.min(1, b.doneFiles / b.files) : 1;

    let remaining: number | null = null;
    if (b.rate !== null && b.rate > 0 && b.bytes !== null) {
      const left = Math.max(0, b.bytes - b.doneBytes) / b.rate;
      // Counts down between events; the next event corrects it.
      remaining = Math.max(0, left - Math.max(0, now - b.sampleMs) / 1000);
    }

    return {
      batch: b.batch,
      background: b.background,
      kind: b.kind,
      phase: b.phase === 'running' ? 'running' : 'queued',
      roots: b.roots,
      files: b.files,
      bytes: b.bytes,
      doneFiles: b.files === null ? b.doneFiles : Math.min(b.doneFiles, b.files),
      doneBytes: b.doneBytes,
      counts: { ...b.counts },
      current: b.current,
      rate: b.rate,
      remaining,
      fraction,
    };
  }
}
