import { render, screen } from '@testing-library/svelte';
import { createRawSnippet } from 'svelte';
import { describe, expect, it } from 'vitest';
import EmptyState from '$lib/components/EmptyState.svelte';

describe('EmptyState', () => {
  it('is a region named by its title, with its content under it', () => {
    const children = createRawSnippet(() => ({ render: () => '<p>Drop files here.</p>' }));
    render(EmptyState, { icon: 'drop', title: 'Nothing here yet', testid: 'demo', children });

    const region = screen.getByRole('region', { name: 'Nothing here yet' });
    expect(region).toHaveTextContent('Drop files here.');
    expect(region).toHaveAttribute('data-testid', 'demo');
    // The icon is decoration: the title carries the meaning.
    expect(region.querySelector('svg')).toHaveAttribute('aria-hidden', 'true');
  });

  it('draws the dashed drop frame only when asked', () => {
    const { rerender } = render(EmptyState, { icon: 'drop', title: 'A', testid: 'a' });
    expect(screen.getByTestId('a')).not.toHaveClass('drop-target');

    rerender({ icon: 'drop', title: 'A', testid: 'a', dropTarget: true });
    expect(screen.getByTestId('a')).toHaveClass('drop-target');
  });
});
