import { render, screen } from '@testing-library/svelte';
import { tick } from 'svelte';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { onDragDrop, type DragDrop } from '$lib/ipc/commands';
import { IpcError } from '$lib/ipc';
import DropOverlay from '$lib/library/DropOverlay.svelte';

vi.mock('$lib/ipc/commands');

let drag: (event: DragDrop) => void = () => {};
const stop = vi.fn();

beforeEach(() => {
  vi.resetAllMocks();
  vi.mocked(onDragDrop).mockImplementation(async (handler) => {
    drag = handler;
    return stop;
  });
});

async function mounted(ondrop = vi.fn()) {
  const view = render(DropOverlay, { ondrop });
  await vi.waitFor(() => expect(onDragDrop).toHaveBeenCalled());
  await tick();
  return { ...view, ondrop };
}

describe('DropOverlay', () => {
  it('shows the frame while files are over the window and hands over the drop', async () => {
    const { ondrop } = await mounted();
    expect(screen.queryByTestId('drop-overlay')).not.toBeInTheDocument();

    drag({ type: 'enter', paths: ['/a.pdf'] });
    await tick();
    expect(screen.getByTestId('drop-overlay')).toHaveTextContent('1 item');
    expect(screen.getByTestId('drop-overlay')).toHaveAttribute('aria-hidden', 'true');
    drag({ type: 'over' });
    await tick();
    expect(screen.getByTestId('drop-overlay')).toBeInTheDocument();

    drag({ type: 'drop', paths: ['/a.pdf'] });
    await tick();
    expect(screen.queryByTestId('drop-overlay')).not.toBeInTheDocument();
    expect(ondrop).toHaveBeenCalledWith(['/a.pdf']);
  });

  it('ignores a drop without paths', async () => {
    const { ondrop } = await mounted();
    drag({ type: 'drop', paths: [] });
    expect(ondrop).not.toHaveBeenCalled();
  });

  it('stops following drags when it goes away', async () => {
    const { unmount } = await mounted();
    expect(stop).not.toHaveBeenCalled();
    unmount();
    await vi.waitFor(() => expect(stop).toHaveBeenCalledTimes(1));
  });

  it('stays quiet outside the app', async () => {
    vi.mocked(onDragDrop).mockRejectedValue(new IpcError('no_backend', 'not in the app'));
    render(DropOverlay, { ondrop: vi.fn() });
    await tick();
    expect(screen.queryByTestId('drop-overlay')).not.toBeInTheDocument();
  });
});
