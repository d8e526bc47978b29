/**
 * The model downloads as the screen shows them: this session's jobs (kept up to date by the `model_download`
 * event) and the unfinished downloads an earlier run left, with the actions on them.
 */
import {
  cancelModelDownload,
  clearFinishedDownloads,
  discardPartialDownload,
  getModelDownloads,
  onModelDownload,
  pauseModelDownload,
  resumeModelDownload,
  resumePartialDownload,
  startHfDownload,
  startModelDownload,
  toIpcError,
  type IpcError,
  type ModelDownload,
  type PartialDownload,
} from '../ipc';
import { isActive } from './fit';

export class DownloadsStore {
  jobs = $state.raw<ModelDownload[]>([]);
  partials = $state.raw<PartialDownload[]>([]);
  /** The last action that failed, with what it was. */
  error = $state.raw<{ title: string; error: IpcError } | null>(null);
  /** Ids (and partial file names) with an action under way. */
  busy = $state.raw<Set<string>>(new Set());
  private stop: (() => void) | null = null;

  /** Loads the downloads and follows their changes; resolves once both are set up. */
  async start(): Promise<void> {
    try {
      this.stop = (await onModelDownload((job) => this.apply(job))) ?? null;
    } catch (reason) {
      this.error = { title: 'Could not follow the downloads', error: toIpcError(reason) };
    }
    await this.refresh();
  }

  dispose(): void {
    this.stop?.();
    this.stop = null;
  }

  async refresh(): Promise<void> {
    try {
      const view = await getModelDownloads();
      this.jobs = Array.isArray(view?.jobs) ? view.jobs : [];
      this.partials = Array.isArray(view?.partials) ? view.partials : [];
    } catch (reason) {
      this.error = { title: 'Could not list the downloads', error: toIpcError(reason) };
    }
  }

  /** A job's new state, from the event. */
  apply(job: ModelDownload): void {
    const at = this.jobs.findIndex((j) => j.id === job.id);
    this.jobs = at < 0 ? [...this.jobs, job] : this.jobs.map((j, i) => (i === at ? job : j));
    // a partial file a job now works on is no longer offered on its own
    if (isActive(job)) this.partials = this.partials.filter((p) => p.file_name !== job.file_name);
  }

  /** The download of `fileName` under way, if any. */
  activeFor(fileName: string): ModelDownload | undefined {
    return this.jobs.find((j) => j.file_name === fileName && isActive(j));
  }

  private async run(key: string, title: string, action: () => Promise<unknown>): Promise<boolean> {
    if (this.busy.has(key)) return false;
    this.busy = new Set([...this.busy, key]);
    this.error = null;
    try {
      await action();
      return true;
    } catch (reason) {
      this.error = { title, error: toIpcError(reason) };
      return false;
    } finally {
      const next = new Set(this.busy);
      next.delete(key);
      this.busy = next;
    }
  }

  startCatalog(id: string): Promise<boolean> {
    return this.run(`catalog:${id}`, 'Could not start the download', () => startModelDownload(id));
  }

  startHf(repo: string, file: string): Promise<boolean> {
    return this.run(`hf:${repo}/${file}`, 'Could not start the download', () => startHfDownload(repo, file));
  }

  pause(id: number): Promise<boolean> {
    return this.run(`job:${id}`, 'Could not pause the download', () => pauseModelDownload(id));
  }

  resume(id: number): Promise<boolean> {
    return this.run(`job:${id}`, 'Could not resume the download', () => resumeModelDownload(id));
  }

  cancel(id: number): Promise<boolean> {
    return this.run(`job:${id}`, 'Could not cancel the download', () => cancelModelDownload(id));
  }

  resumePartial(fileName: string): Promise<boolean> {
    return this.run(`partial:${fileName}`, 'Could not resume the download', async () => {
      await resumePartialDownload(fileName);
      this.partials = this.partials.filter((p) => p.file_name !== fileName);
    });
  }

  discard(fileName: string): Promise<boolean> {
    return this.run(`partial:${fileName}`, 'Could not delete the unfinished download', async () => {
      await discardPartialDownload(fileName);
      this.partials = this.partials.filter((p) => p.file_name !== fileName);
    });
  }

  clearFinished(): Promise<boolean> {
    return this.run('clear', 'Could not clear the finished downloads', async () => {
      await clearFinishedDownloads();
      this.jobs = this.jobs.filter((j) => j.state !== 'done' && j.state !== 'cancelled');
    });
  }
}
