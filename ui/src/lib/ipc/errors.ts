/**
 * Errors that cross the IPC boundary.
 *
 * The Rust shell serialises every command error as `{ kind, message }` (src-tauri/error.rs). The UI sees
 * exactly that shape, whatever went wrong: a command error from Rust, a rejection from Tauri itself
 * (an unknown command, a permission the capabilities do not grant), or the page running outside the app.
 */

/** Kinds the UI itself produces; Rust adds its own (see `ErrorKind` in src-tauri/error.rs). */
export const LOCAL_ERROR_KINDS = {
  /** The page runs in a plain browser (e.g. `npm run dev` without Tauri): there is no Rust side. */
  noBackend: 'no_backend',
  /** Tauri rejected the call before any command ran (unknown command, not allowed by the capabilities). */
  ipc: 'ipc',
  /** Anything else that is not shaped like `{ kind, message }`. */
  unknown: 'unknown',
} as const;

export interface IpcErrorShape {
  kind: string;
  message: string;
}

/** An error from a Rust command, or from the IPC bridge, as `{ kind, message }`. */
export class IpcError extends Error implements IpcErrorShape {
  readonly kind: string;

  constructor(kind: string, message: string) {
    super(message);
    this.name = 'IpcError';
    this.kind = kind;
  }

  toJSON(): IpcErrorShape {
    return { kind: this.kind, message: this.message };
  }
}

function isErrorShape(value: unknown): value is IpcErrorShape {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Record<string, unknown>).kind === 'string' &&
    typeof (value as Record<string, unknown>).message === 'string'
  );
}

/** Turns whatever `invoke` rejected with into an {@link IpcError}. */
export function toIpcError(reason: unknown): IpcError {
  if (reason instanceof IpcError) return reason;
  if (isErrorShape(reason)) return new IpcError(reason.kind, reason.message);
  // Tauri rejects with a bare string when it refuses a call itself.
  if (typeof reason === 'string') return new IpcError(LOCAL_ERROR_KINDS.ipc, reason);
  if (reason instanceof Error) return new IpcError(LOCAL_ERROR_KINDS.unknown, reason.message);
  return new IpcError(LOCAL_ERROR_KINDS.unknown, String(reason));
}
