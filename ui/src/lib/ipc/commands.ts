/** Typed wrappers, one per Rust command, in the order of `generate_handler!` in src-tauri/lib.rs. */
import { call } from './bridge';
import type { AppInfo } from './types';

/** The app's name, version and data folder. */
export function getAppInfo(): Promise<AppInfo> {
  return call<AppInfo>('app_info');
}
