import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import App from './App.svelte';
import { getAppInfo } from '$lib/ipc/commands';
import { SCREENS } from '$lib/screens';

vi.mock('$lib/ipc/commands');

beforeEach(() => {
  vi.mocked(getAppInfo).mockResolvedValue({ name: 'Quire', version: '0.1.0', data_dir: '/data/quire' });
});

describe('App', () => {
  it('opens on the library', async () => {
    render(App);

    expect(screen.getByRole('heading', { level: 1, name: 'Library' })).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Library' })).toHaveAttribute('aria-current', 'page');
    expect(await screen.findByTestId('data-dir')).toHaveTextContent('/data/quire');
  });

  it.each(SCREENS.map((s) => [s.label, s.id] as const))('shows %s when its entry is chosen', async (label, id) => {
    const user = userEvent.setup();
    render(App);

    await user.click(screen.getByRole('button', { name: label }));

    expect(screen.getByTestId(`screen-${id}`)).toBeInTheDocument();
    expect(screen.getByRole('heading', { level: 1, name: label })).toBeInTheDocument();
    expect(screen.getByRole('button', { name: label })).toHaveAttribute('aria-current', 'page');
    expect(screen.getAllByRole('heading', { level: 1 })).toHaveLength(1);
  });

  it('gives every screen an empty state that says what it will hold', async () => {
    const user = userEvent.setup();
    render(App);

    for (const { label, id } of SCREENS) {
      await user.click(screen.getByRole('button', { name: label }));
      const empty = screen.getByTestId(`${id}-empty`);
      expect(empty.querySelector('h2')?.textContent?.trim()).toBeTruthy();
      expect(empty.textContent).not.toMatch(/coming soon|lorem|todo/i);
    }
  });
});
