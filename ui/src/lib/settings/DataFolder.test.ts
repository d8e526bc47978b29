import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { changeDataDir, chooseFolder, restartApp } from '$lib/ipc/commands';
import { IpcError, type AppInfo } from '$lib/ipc';
import DataFolder from '$lib/settings/DataFolder.svelte';

vi.mock('$lib/ipc/commands');

const DEFAULT = '/home/me/.local/share/dev.quire.desktop';

function info(extra: Partial<AppInfo> = {}): AppInfo {
  return { name: 'Quire', version: '0.1.0', data_dir: DEFAULT, data_dir_source: 'default', default_data_dir: DEFAULT, ...extra };
}

beforeEach(() => {
  vi.resetAllMocks();
  vi.mocked(restartApp).mockResolvedValue();
});

describe('DataFolder', () => {
  it('copies the data to a chosen folder after confirmation, then restarts', async () => {
    vi.mocked(chooseFolder).mockResolvedValue('/mnt/big/Quire');
    vi.mocked(changeDataDir).mockResolvedValue({ kind: 'copied', files: 12, bytes: 3_000_000 });
    const user = userEvent.setup();
    render(DataFolder, { info: info(), infoError: null });

    expect(screen.getByTestId('settings-data-dir')).toHaveTextContent(DEFAULT);
    expect(screen.queryByRole('button', { name: 'Use the default folder' })).not.toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: 'Change…' }));
    expect(chooseFolder).toHaveBeenCalledWith('Choose where Quire keeps its data');
    const confirm = screen.getByRole('group', { name: 'Move the data folder' });
    expect(confirm).toHaveTextContent('/mnt/big/Quire');
    expect(confirm).toHaveTextContent('The current folder stays as it is');
    expect(changeDataDir).not.toHaveBeenCalled();

    await user.click(screen.getByRole('button', { name: 'Move and restart' }));
    expect(changeDataDir).toHaveBeenCalledWith('/mnt/big/Quire');
    expect(await screen.findByRole('status')).toHaveTextContent('Copied 12 files (3.0 MB) to /mnt/big/Quire. Restarting…');
    expect(restartApp).toHaveBeenCalled();
  });

  it('keeps the folder and says why when the move is refused, and can be cancelled', async () => {
    vi.mocked(chooseFolder).mockResolvedValue('/home/me/Photos');
    vi.mocked(changeDataDir).mockRejectedValue(
      new IpcError('invalid_input', '/home/me/Photos is not empty. Choose an empty folder, or one that already holds a Quire library.'),
    );
    const user = userEvent.setup();
    render(DataFolder, { info: info(), infoError: null });

    await user.click(screen.getByRole('button', { name: 'Change…' }));
    await user.click(screen.getByRole('button', { name: 'Move and restart' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('is not empty');
    expect(restartApp).not.toHaveBeenCalled();

    await user.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(screen.queryByRole('group', { name: 'Move the data folder' })).not.toBeInTheDocument();
    expect(screen.getByTestId('settings-data-dir')).toHaveTextContent(DEFAULT);
  });

  it('does nothing when the folder picker is cancelled', async () => {
    vi.mocked(chooseFolder).mockResolvedValue(null);
    const user = userEvent.setup();
    render(DataFolder, { info: info(), infoError: null });
    await user.click(screen.getByRole('button', { name: 'Change…' }));
    expect(screen.queryByRole('group')).not.toBeInTheDocument();
  });

  it('goes back to the default folder, where a library already is', async () => {
    vi.mocked(changeDataDir).mockResolvedValue({ kind: 'existing' });
    const user = userEvent.setup();
    render(DataFolder, { info: info({ data_dir: '/mnt/big/Quire', data_dir_source: 'chosen' }), infoError: null });

    await user.click(screen.getByRole('button', { name: 'Use the default folder' }));
    await user.click(screen.getByRole('button', { name: 'Move and restart' }));
    expect(changeDataDir).toHaveBeenCalledWith(DEFAULT);
    expect(await screen.findByRole('status')).toHaveTextContent('already holds a Quire library');
  });

  it('cannot change a folder set by QUIRE_DATA_DIR', () => {
    render(DataFolder, { info: info({ data_dir: '/srv/q', data_dir_source: 'environment' }), infoError: null });
    expect(screen.getByTestId('data-dir-locked')).toHaveTextContent('QUIRE_DATA_DIR');
    expect(screen.queryByRole('button', { name: 'Change…' })).not.toBeInTheDocument();
  });
});
