import { describe, expect, it, vi } from 'vitest';
import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { IpcError, type WatchRules as Rules } from '$lib/ipc';
import WatchRules from '$lib/library/WatchRules.svelte';

vi.mock('$lib/ipc/commands');

const FOLDER = { path: '/home/me/Notes', collection: null, added_ms: 1, exclude: ['drafts/**'], max_bytes: 5_000_000 };

describe('WatchRules', () => {
  it('opens on the folder’s rules with the focus in its first field, and Escape cancels', async () => {
    const oncancel = vi.fn();
    const user = userEvent.setup();
    render(WatchRules, { folder: FOLDER, onsave: vi.fn(), oncancel });
    expect(screen.getByRole('form', { name: 'Rules for Notes' })).toBeInTheDocument();
    expect(screen.getByTestId('rules-include')).toHaveFocus();
    expect(screen.getByTestId('rules-include')).toHaveValue('');
    expect(screen.getByTestId('rules-exclude')).toHaveValue('drafts/**');
    expect(screen.getByTestId('rules-max-mb')).toHaveValue('5');
    expect(screen.getByText(/Hidden, temporary and lock files are always skipped\./)).toBeInTheDocument();
    await user.keyboard('{Escape}');
    expect(oncancel).toHaveBeenCalledTimes(1);
  });

  it('checks the size before saving, then saves the patterns and the limit in bytes', async () => {
    const onsave = vi.fn<(rules: Rules) => Promise<void>>().mockResolvedValue();
    const user = userEvent.setup();
    render(WatchRules, { folder: FOLDER, onsave, oncancel: vi.fn() });
    await user.clear(screen.getByTestId('rules-max-mb'));
    await user.type(screen.getByTestId('rules-max-mb'), 'lots');
    await user.click(screen.getByTestId('rules-save'));
    expect(screen.getByTestId('rules-max-mb-error')).toHaveTextContent('positive number of MB');
    expect(screen.getByTestId('rules-max-mb')).toHaveFocus();
    expect(onsave).not.toHaveBeenCalled();

    await user.clear(screen.getByTestId('rules-max-mb'));
    await user.type(screen.getByTestId('rules-include'), ' *.md \n\n*.txt');
    await user.click(screen.getByTestId('rules-save'));
    expect(onsave).toHaveBeenCalledWith({ include: ['*.md', '*.txt'], exclude: ['drafts/**'], maxBytes: null });
    expect(screen.queryByTestId('rules-max-mb-error')).not.toBeInTheDocument();
  });

  it('shows why the app refused the rules and keeps what was typed', async () => {
    const onsave = vi.fn().mockRejectedValue(new IpcError('invalid_input', 'Not saved: the pattern "a[" is not a valid glob.'));
    const user = userEvent.setup();
    render(WatchRules, { folder: FOLDER, onsave, oncancel: vi.fn() });
    await user.type(screen.getByTestId('rules-include'), 'a[[');
    await user.click(screen.getByTestId('rules-save'));
    expect(await screen.findByRole('alert')).toHaveTextContent('"a[" is not a valid glob');
    expect(screen.getByTestId('rules-include')).toHaveValue('a[');
    expect(screen.getByTestId('rules-save')).toBeEnabled();
  });
});
