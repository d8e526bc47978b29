/**
 * The change of embedding model under way, as the screens show it: loaded once, then kept up to date by the
 * `embedding-switch` event, with Cancel and Retry. While it runs, search keeps using the current model; when
 * it ends (switched, or cancelled and the current model chosen again) `onended` lets the screen reload what
 * names the embedding model.
 */
import {
  cancelEmbeddingSwitch,
  getEmbeddingSwitch,
  onEmbeddingSwitch,
  retryEmbeddingSwitch,
  toIpcError,
  type EmbeddingSwitch,
  type IpcError,
} from '../ipc';

/** What the app says once a saved choice starts a change of embedding model. */
export const SWITCHING_MESSAGE =
  'Embedding the library with the new model in the background; search uses the current one until it is done.';

export class EmbeddingSwitchStore {
  /** The change under way, or null when there is none. */
  current = $state.raw<EmbeddingSwitch | null>(null);
  /** The last action that failed, with what it was. */
  error = $state.raw<{ title: string; error: IpcError } | null>(null);
  /** The action under way. */
  busy = $state<'cancel' | 'retry' | null>(null);
  private stop: (() => void) | null = null;
  private disposed = false;
  /** Counts the events, so that a slower first load does not replace a newer event. */
  private events = 0;

  private readonly onended: (() => void) | undefined;

  /** `onended` runs when a change that was under way ends (switched or cancelled). */
  constructor(onended?: () => void) {
    this.onended = onended;
  }

  /** Follows the changes and loads the one under way; resolves once both are set up. */
  async start(): Promise<void> {
    try {
      const stop = (await onEmbeddingSwitch((change) => this.apply(change))) ?? null;
      if (this.disposed) stop?.();
      else this.stop = stop;
    } catch (reason) {
      this.error = { title: 'Could not follow the change of embedding model', error: toIpcError(reason) };
    }
    await this.refresh();
  }

  dispose(): void {
    this.disposed = true;
    this.stop?.();
    this.stop = null;
  }

  /** Asks for the change under way again. */
  async refresh(): Promise<void> {
    const seen = this.events;
    try {
      const change = (await getEmbeddingSwitch()) ?? null;
      if (seen === this.events) this.set(change);
    } catch (reason) {
      this.error = { title: 'Could not read the change of embedding model', error: toIpcError(reason) };
    }
  }

  /** The change's new state, from the event (null: it ended). */
  apply(change: EmbeddingSwitch | null): void {
    this.events += 1;
    this.set(change ?? null);
  }

  private set(change: EmbeddingSwitch | null): void {
    const was = this.current;
    this.current = change;
    if (change === null) this.busy = null;
    if (was !== null && change === null && !this.disposed) this.onended?.();
  }

  /** Stops the change: the current model stays, with its index as it was. */
  async cancel(): Promise<boolean> {
    if (this.busy || !this.current || this.current.state === 'switching') return false;
    this.busy = 'cancel';
    this.error = null;
    try {
      await cancelEmbeddingSwitch();
      this.apply(null);
      return true;
    } catch (reason) {
      this.error = { title: 'Could not cancel the change of embedding model', error: toIpcError(reason) };
      return false;
    } finally {
      this.busy = null;
    }
  }

  /** Starts a failed change again. */
  async retry(): Promise<boolean> {
    if (this.busy || this.current?.state !== 'failed') return false;
    this.busy = 'retry';
    this.error = null;
    const seen = this.events;
    try {
      await retryEmbeddingSwitch();
      // Running again, unless an event already said how it goes.
      if (seen === this.events && this.current?.state === 'failed') {
        this.current = { ...this.current, state: 'running', error: null };
      }
      return true;
    } catch (reason) {
      this.error = { title: 'Could not retry the change of embedding model', error: toIpcError(reason) };
      return false;
    } finally {
      this.busy = null;
    }
  }
}
