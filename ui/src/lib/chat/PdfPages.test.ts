import { render, screen, waitFor } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import PdfPages from '$lib/chat/PdfPages.svelte';
import { IpcError } from '$lib/ipc';
import { fakePdf } from '../../test/fakePdf';

const PAGES = [
  ['Preface', 'Welcome to the guide.'],
  ['Chapter 1', 'Packages are built from source.'],
  ['Chapter 2', 'Quilt keeps a stack of', 'patches over the upstream source.', 'Next topic.'],
  ['Chapter 3', 'The end.'],
];
const SNIPPET = 'Quilt keeps a stack of patches over the upstream source.';

function setup(page: number | null = 3, pdf = fakePdf(PAGES)) {
  const open = vi.fn(async () => pdf);
  const onshowtext = vi.fn();
  const view = render(PdfPages, { path: '/docs/guide.pdf', page, snippet: SNIPPET, open, onshowtext });
  return { pdf, open, onshowtext, view };
}

async function drawnPage(): Promise<string | null> {
  const canvas = screen.getByTestId('pdf-canvas');
  await waitFor(() => expect(canvas.dataset.drawn).toBe(canvas.dataset.page));
  return canvas.dataset.page ?? null;
}

describe('PdfPages', () => {
  it('opens the document at the cited page and marks the passage there', async () => {
    const { open, pdf } = setup();
    expect(open).toHaveBeenCalledWith('/docs/guide.pdf');

    expect(await drawnPage()).toBe('3');
    expect(screen.getByText('of 4')).toBeInTheDocument();
    expect(screen.getByTestId('pdf-page-input')).toHaveValue('3');
    await waitFor(() => expect(screen.getAllByTestId('pdf-mark')).toHaveLength(2));
    expect(pdf.drawn.at(-1)?.page).toBe(3);
  });

  it('turns pages with the buttons, the page box and the arrow keys, and marks only the cited page', async () => {
    const user = userEvent.setup();
    setup();
    await drawnPage();

    await user.click(screen.getByRole('button', { name: 'Next page' }));
    expect(await drawnPage()).toBe('4');
    expect(screen.queryAllByTestId('pdf-mark')).toHaveLength(0);
    expect(screen.getByRole('button', { name: 'Next page' })).toBeDisabled();

    await user.click(screen.getByRole('button', { name: 'Back to the cited page 3' }));
    expect(await drawnPage()).toBe('3');
    await waitFor(() => expect(screen.getAllByTestId('pdf-mark')).toHaveLength(2));

    const input = screen.getByTestId('pdf-page-input');
    await user.clear(input);
    await user.type(input, '99{Enter}');
    expect(await drawnPage()).toBe('4');

    screen.getByRole('region').focus();
    await user.keyboard('{ArrowLeft}{ArrowLeft}{ArrowLeft}');
    expect(await drawnPage()).toBe('1');
    expect(screen.getByRole('button', { name: 'Previous page' })).toBeDisabled();
  });

  it('zooms in steps from the fitted width and back to fit', async () => {
    const user = userEvent.setup();
    const { pdf } = setup();
    await drawnPage();
    // jsdom lays nothing out, so "fit" comes to the smallest scale.
    expect(screen.getByTestId('pdf-zoom')).toHaveTextContent('25 %');

    await user.click(screen.getByRole('button', { name: 'Zoom in' }));
    await waitFor(() => expect(screen.getByTestId('pdf-zoom')).toHaveTextContent('50 %'));
    await user.click(screen.getByRole('button', { name: 'Zoom in' }));
    await waitFor(() => expect(screen.getByTestId('pdf-zoom')).toHaveTextContent('67 %'));
    expect(screen.getByRole('button', { name: 'Fit to width' })).toHaveAttribute('aria-pressed', 'false');

    await user.click(screen.getByRole('button', { name: 'Fit to width' }));
    await waitFor(() => expect(screen.getByTestId('pdf-zoom')).toHaveTextContent('25 %'));
    expect(pdf.drawn.map((d) => d.scale)).toEqual(expect.arrayContaining([0.25, 0.5, 0.67]));
    // The marks follow the zoom.
    const mark = screen.getAllByTestId('pdf-mark')[0];
    expect(mark?.style.top).toBe(`${(60 + 20) * 0.25}px`);
  });

  it('opens at the first page when the citation has no page in the document', async () => {
    setup(12);
    expect(await drawnPage()).toBe('1');
    expect(screen.queryByRole('button', { name: /Back to the cited page/ })).not.toBeInTheDocument();
  });

  it('offers the text when the pages cannot be drawn', async () => {
    const user = userEvent.setup();
    const open = vi.fn(async () => {
      throw new IpcError('invalid_input', '/docs/guide.pdf could not be read; it may have been moved or deleted.');
    });
    const onshowtext = vi.fn();
    render(PdfPages, { path: '/docs/guide.pdf', page: 3, snippet: SNIPPET, open, onshowtext });

    expect(await screen.findByRole('alert')).toHaveTextContent('moved or deleted');
    await user.click(screen.getByRole('button', { name: 'Show the text instead' }));
    expect(onshowtext).toHaveBeenCalled();
  });

  it('closes the document when the viewer goes away', async () => {
    const { pdf, view } = setup();
    await drawnPage();
    view.unmount();
    await waitFor(() => expect(pdf.closed).toBe(true));
  });
});
