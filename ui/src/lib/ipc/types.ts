/**
 * Data that crosses the IPC boundary, mirroring the serialisable DTOs of src-tauri/ (camelCase on the wire).
 * Keep each type next to the Rust struct it mirrors in mind: a renamed field breaks only at run time.
 */

/** `app_info`: what the shell knows about itself (src-tauri/commands.rs `AppInfo`). */
export interface AppInfo {
  /** The product name, "Quire". */
  name: string;
  /** The app's version (semver). */
  version: string;
  /** The folder that holds the library, indexes and settings (honours `QUIRE_DATA_DIR`). */
  dataDir: string;
}
