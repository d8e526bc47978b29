/**
 * The one place that talks to Tauri. Everything else in the UI calls the typed wrappers in this folder,
 * so tests mock this module boundary and the rest of the app never sees `@tauri-apps/api`.
 */
import { invoke, isTauri, type InvokeArgs } from '@tauri-apps/api/core';
import { IpcError, LOCAL_ERROR_KINDS, toIpcError } from './errors';

/** Calls a Rust command; resolves with its result or rejects with an {@link IpcError}. */
export async function call<T>(command: string, args?: InvokeArgs): Promise<T> {
  if (!isTauri()) {
    throw new IpcError(
      LOCAL_ERROR_KINDS.noBackend,
      'Quire is open in a web browser, not in the app, so it cannot reach your library.',
    );
  }
  try {
    return await invoke<T>(command, args);
  } catch (reason) {
    throw toIpcError(reason);
  }
}
