/**
 * The one place that talks to Tauri. Everything else in the UI calls the typed wrappers in this folder,
 * so tests mock this module boundary and the rest of the app never sees `@tauri-apps/api`.
 */
import { Channel, invoke, isTauri, type InvokeArgs } from '@tauri-apps/api/core';
import { listen as tauriListen } from '@tauri-apps/api/event';
import { IpcError, LOCAL_ERROR_KINDS, toIpcError } from './errors';

function noBackend(): IpcError {
  return new IpcError(
    LOCAL_ERROR_KINDS.noBackend,
    'Quire is open in a web browser, not in the app, so it cannot reach your library.',
  );
}

/** Calls a Rust command; resolves with its result or rejects with an {@link IpcError}. */
export async function call<T>(command: string, args?: InvokeArgs): Promise<T> {
  if (!isTauri()) throw noBackend();
  try {
    return await invoke<T>(command, args);
  } catch (reason) {
    throw toIpcError(reason);
  }
}

/**
 * Calls a Rust command that streams: `onMessage` receives each message the command sends on its
 * `tauri::ipc::Channel` (in order) before the returned promise settles.
 */
export async function callStreaming<T, M>(
  command: string,
  args: Record<string, unknown>,
  onMessage: (message: M) => void,
): Promise<T> {
  if (!isTauri()) throw noBackend();
  const channel = new Channel<M>();
  channel.onmessage = onMessage;
  try {
    return await invoke<T>(command, { ...args, onEvent: channel });
  } catch (reason) {
    throw toIpcError(reason);
  }
}

/** Listens to an event Rust broadcasts to every window; resolves with the function that stops listening. */
export async function listen<T>(event: string, handler: (payload: T) => void): Promise<() => void> {
  if (!isTauri()) throw noBackend();
  return tauriListen<T>(event, (e) => handler(e.payload));
}

/** What a drag of files over the window does (Tauri's native drag and drop; paths are absolute). */
export type DragDrop =
  | { type: 'enter'; paths: string[] }
  | { type: 'over' }
  | { type: 'drop'; paths: string[] }
  | { type: 'leave' };

/**
 * Follows files dragged over and dropped on the window; resolves with the function that stops following.
 * (The webview's DOM never sees the files' paths: only this native event carries them.)
 */
export async function onDragDrop(handler: (event: DragDrop) => void): Promise<() => void> {
  if (!isTauri()) throw noBackend();
  const { getCurrentWebview } = await import('@tauri-apps/api/webview');
  return getCurrentWebview().onDragDropEvent((e) => {
    const p = e.payload;
    if (p.type === 'enter') handler({ type: 'enter', paths: p.paths });
    else if (p.type === 'over') handler({ type: 'over' });
    else if (p.type === 'drop') handler({ type: 'drop', paths: p.paths });
    else handler({ type: 'leave' });
  });
}
