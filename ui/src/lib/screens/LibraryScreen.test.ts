import { render, screen } from '@testing-library/svelte';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { getAppInfo } from '$lib/ipc/commands';
import { IpcError } from '$lib/ipc';
import LibraryScreen from '$lib/screens/LibraryScreen.svelte';

vi.mock('$lib/ipc/commands');
const appInfo = vi.mocked(getAppInfo);

beforeEach(() => {
  appInfo.mockReset();
});

describe('LibraryScreen', () => {
  it('invites the first import when the library is empty', () => {
    appInfo.mockReturnValue(new Promise(() => {}));
    render(LibraryScreen);

    expect(screen.getByRole('heading', { level: 1, name: 'Library' })).toBeInTheDocument();
    expect(screen.getByRole('heading', { name: 'Your library is empty' })).toBeInTheDocument();
    expect(screen.getByText('Drop files or folders here to add them.')).toBeInTheDocument();
  });

  it('shows the data folder and version that Rust reports', async () => {
    appInfo.mockResolvedValue({ name: 'Quire', version: '1.2.3', data_dir: '/tmp/quire-library' });
    render(LibraryScreen);

    expect(await screen.findByTestId('data-dir')).toHaveTextContent('/tmp/quire-library');
    expect(screen.getByTestId('app-version')).toHaveTextContent('Quire 1.2.3');
    expect(appInfo).toHaveBeenCalledTimes(1);
  });

  it('says it is still reading while the details are on their way', () => {
    appInfo.mockReturnValue(new Promise(() => {}));
    render(LibraryScreen);

    expect(screen.getAllByText('Reading…')).toHaveLength(2);
    expect(screen.queryByTestId('data-dir')).not.toBeInTheDocument();
  });

  it('shows a readable error when the details cannot be read', async () => {
    appInfo.mockRejectedValue(new IpcError('io', 'Permission denied: /srv/quire'));
    render(LibraryScreen);

    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('Could not read the library details');
    expect(alert).toHaveTextContent('Permission denied: /srv/quire');
    expect(alert).toHaveAttribute('data-error-kind', 'io');
    // The invitation to import stays: the error concerns the details only.
    expect(screen.getByRole('heading', { name: 'Your library is empty' })).toBeInTheDocument();
  });
});
