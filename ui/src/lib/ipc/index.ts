/**
 * The UI's only door to the Rust shell. Import from `$lib/ipc`, never from `@tauri-apps/api`.
 *
 * Every function returns a promise that rejects with an {@link IpcError} (`{ kind, message }`).
 */
export * from './commands';
export { IpcError, LOCAL_ERROR_KINDS, toIpcError, type IpcErrorShape } from './errors';
export type * from './types';
