import { getAppInfo, toIpcError, type AppInfo, type IpcError } from '../ipc';

/** The app's details (version, where the library and models live), read once for a screen that shows them. */
export class AppInfoState {
  info = $state.raw<AppInfo | null>(null);
  error = $state.raw<IpcError | null>(null);
  #live = true;

  /** Reads the details; a screen gone by the time they arrive keeps nothing. */
  load(): void {
    Promise.resolve()
      .then(() => getAppInfo())
      .then(
        (value) => {
          if (this.#live) this.info = value ?? null;
        },
        (reason: unknown) => {
          if (this.#live) this.error = toIpcError(reason);
        },
      );
  }

  dispose(): void {
    this.#live = false;
  }
}
