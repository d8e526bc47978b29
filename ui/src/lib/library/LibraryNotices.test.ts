import { describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen } from '@testing-library/svelte';
import LibraryNotices from '$lib/library/LibraryNotices.svelte';
import { LibraryStore } from '$lib/library/store.svelte';
import { overview, queueView } from '$lib/library/testing';

vi.mock('$lib/ipc/commands');

const REPAIRED =
  "The library's index of passages could not be read at its newest version (5); it was brought back to version 4.";

describe('LibraryNotices', () => {
  it('shows nothing for a healthy library whose queue is this app’s', () => {
    const store = new LibraryStore();
    store.overview = overview([]);
    store.queue = queueView();
    render(LibraryNotices, { store });
    expect(screen.queryByTestId('library-recovered')).toBeNull();
    expect(screen.queryByTestId('queue-held-elsewhere')).toBeNull();
  });

  it('says what opening the library repaired, until dismissed', async () => {
    const store = new LibraryStore();
    store.overview = overview([], {}, [], {}, [REPAIRED]);
    render(LibraryNotices, { store });
    expect(screen.getByTestId('library-recovered').textContent).toContain('brought back to version 4');
    await fireEvent.click(screen.getByTestId('library-recovered-dismiss'));
    expect(screen.queryByTestId('library-recovered')).toBeNull();
  });

  it('says when another Quire process owns the indexing queue, and stops saying it when it ends', async () => {
    const store = new LibraryStore();
    store.overview = overview([]);
    store.queue = queueView({ held_elsewhere: true });
    const { rerender } = render(LibraryNotices, { store });
    expect(screen.getByTestId('queue-held-elsewhere').textContent).toContain('quire watch run');
    store.queue = queueView();
    await rerender({ store });
    expect(screen.queryByTestId('queue-held-elsewhere')).toBeNull();
  });
});
