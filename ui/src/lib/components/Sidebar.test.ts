import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import Sidebar from '$lib/components/Sidebar.svelte';
import { SCREENS } from '$lib/screens';

describe('Sidebar', () => {
  it('lists every screen, in order, inside a labelled navigation', () => {
    render(Sidebar, { screens: SCREENS, current: 'library', onnavigate: vi.fn() });

    const nav = screen.getByRole('navigation', { name: 'Sections' });
    const labels = Array.from(nav.querySelectorAll('button')).map((b) => b.textContent?.trim());
    expect(labels).toEqual(['Library', 'Chat', 'Models', 'Settings']);
  });

  it('marks the current screen with aria-current and only that one', () => {
    render(Sidebar, { screens: SCREENS, current: 'models', onnavigate: vi.fn() });

    expect(screen.getByRole('button', { name: 'Models' })).toHaveAttribute('aria-current', 'page');
    for (const name of ['Library', 'Chat', 'Settings']) {
      expect(screen.getByRole('button', { name })).not.toHaveAttribute('aria-current');
    }
  });

  it('asks to navigate on click and from the keyboard', async () => {
    const user = userEvent.setup();
    const onnavigate = vi.fn();
    render(Sidebar, { screens: SCREENS, current: 'library', onnavigate });

    await user.click(screen.getByRole('button', { name: 'Chat' }));
    expect(onnavigate).toHaveBeenLastCalledWith('chat');

    screen.getByRole('button', { name: 'Settings' }).focus();
    await user.keyboard('{Enter}');
    expect(onnavigate).toHaveBeenLastCalledWith('settings');
  });
});
