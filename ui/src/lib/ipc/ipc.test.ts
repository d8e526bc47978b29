import { beforeEach, describe, expect, it, vi } from 'vitest';

// The module boundary: the real `@tauri-apps/api/core` needs the app's webview; these tests stand in for it.
const tauri = vi.hoisted(() => ({
  invoke: vi.fn(),
  isTauri: vi.fn(() => true),
}));
vi.mock('@tauri-apps/api/core', () => tauri);

import { getAppInfo, getQueueState, IpcError, pauseIndexing, retryDocuments, settleGivenUp, toIpcError } from '$lib/ipc';

beforeEach(() => {
  tauri.invoke.mockReset();
  tauri.isTauri.mockReset().mockReturnValue(true);
});

describe('getAppInfo', () => {
  it('calls the app_info command and returns its result', async () => {
    const info = { name: 'Quire', version: '0.1.0', data_dir: '/home/ada/.local/share/dev.quire.desktop', data_dir_source: 'default' as const, default_data_dir: '/home/ada/.local/share/dev.quire.desktop' };
    tauri.invoke.mockResolvedValue(info);

    await expect(getAppInfo()).resolves.toEqual(info);
    expect(tauri.invoke).toHaveBeenCalledTimes(1);
    expect(tauri.invoke).toHaveBeenCalledWith('app_info', undefined);
  });

  it('surfaces a Rust error as { kind, message }', async () => {
    tauri.invoke.mockRejectedValue({ kind: 'io', message: 'The data folder cannot be read.' });

    const error = await getAppInfo().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IpcError);
    expect(error).toMatchObject({ kind: 'io', message: 'The data folder cannot be read.' });
  });

  it('surfaces a refusal from Tauri itself (a bare string) as kind "ipc"', async () => {
    tauri.invoke.mockRejectedValue('Command app_info not allowed by ACL');

    await expect(getAppInfo()).rejects.toMatchObject({
      kind: 'ipc',
      message: 'Command app_info not allowed by ACL',
    });
  });

  it('does not call invoke outside the app, and says why', async () => {
    tauri.isTauri.mockReturnValue(false);

    await expect(getAppInfo()).rejects.toMatchObject({ kind: 'no_backend' });
    expect(tauri.invoke).not.toHaveBeenCalled();
  });
});

describe('the indexing queue commands', () => {
  it('call Rust with the argument names its commands take', async () => {
    tauri.invoke.mockResolvedValue(undefined);
    await pauseIndexing(true);
    expect(tauri.invoke).toHaveBeenLastCalledWith('pause_indexing', { paused: true });
    tauri.invoke.mockResolvedValue(7);
    await expect(retryDocuments(['/a.pdf'])).resolves.toBe(7);
    expect(tauri.invoke).toHaveBeenLastCalledWith('retry_documents', { paths: ['/a.pdf'] });
    tauri.invoke.mockResolvedValue(undefined);
    await settleGivenUp(false);
    expect(tauri.invoke).toHaveBeenLastCalledWith('settle_given_up', { retry: false });
    const view = { paused: false, running: null, jobs: [], given_up: [], held_elsewhere: false };
    tauri.invoke.mockResolvedValue(view);
    await expect(getQueueState()).resolves.toEqual(view);
    expect(tauri.invoke).toHaveBeenLastCalledWith('queue_state', undefined);
  });
});

describe('toIpcError', () => {
  it.each([
    ['an error object from Rust', { kind: 'not_found', message: 'gone' }, { kind: 'not_found', message: 'gone' }],
    ['a string from Tauri', 'denied', { kind: 'ipc', message: 'denied' }],
    ['a JavaScript Error', new TypeError('boom'), { kind: 'unknown', message: 'boom' }],
    ['an object of another shape', { code: 7 }, { kind: 'unknown', message: '[object Object]' }],
    ['nothing at all', undefined, { kind: 'unknown', message: 'undefined' }],
  ])('maps %s', (_label, reason, expected) => {
    expect(toIpcError(reason).toJSON()).toEqual(expected);
  });

  it('keeps an IpcError as it is', () => {
    const error = new IpcError('io', 'disk full');
    expect(toIpcError(error)).toBe(error);
  });
});
