import { render, screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { tick } from 'svelte';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import {
  ask,
  cancelAnswer,
  chooseSavePath,
  createConversation,
  deleteConversation,
  exportConversation,
  getConversation,
  getDocumentView,
  getLibraryOverview,
  listConversations,
  openDocument,
  renameConversation,
  revealDocument,
  setConversationScope,
} from '$lib/ipc/commands';
import {
  IpcError,
  type AnswerEvent,
  type AskRequest,
  type Chunk,
  type Citation,
  type Conversation,
  type ConversationSummary,
  type LibraryOverview,
  type Message,
  type Source,
} from '$lib/ipc';
import { openPdf } from '$lib/chat/pdf';
import ChatScreen from '$lib/screens/ChatScreen.svelte';
import { fakePdf } from '../../test/fakePdf';

vi.mock('$lib/ipc/commands');
vi.mock('$lib/chat/pdf');

// Fixtures ------------------------------------------------------------------------------------------------

const PASSAGE = 'The sky is blue because air scatters short wavelengths of sunlight more than long ones.';

const SOURCE_1: Source = {
  n: 1,
  doc_id: 'd1',
  path: '/docs/physics.pdf',
  title: 'Physics of the sky',
  page_start: 2,
  page_end: 2,
  heading_path: [],
  chunk_indexes: [1],
  text: PASSAGE,
  score: 0.8734,
};

const SOURCE_2: Source = {
  n: 2,
  doc_id: 'd2',
  path: '/docs/notes.md',
  title: null,
  page_start: null,
  page_end: null,
  heading_path: ['Colours'],
  chunk_indexes: [0],
  text: 'Sunsets are red.',
  score: 0.41,
};

function citationOf(source: Source): Citation {
  const { n, doc_id, path, title, page_start, page_end, heading_path, text } = source;
  return { n, doc_id, path, title, page_start, page_end, heading_path, snippet: text };
}

function message(role: Message['role'], content: string, extra: Partial<Message> = {}): Message {
  return {
    role,
    content,
    created_ms: 1_000,
    citations: [],
    sources: [],
    rerank: null,
    model: null,
    rewritten_query: null,
    usage: null,
    timings: null,
    stop: null,
    notice: null,
    not_in_library: false,
    attributed: false,
    ...extra,
  };
}

function answer(content: string, extra: Partial<Message> = {}): Message {
  return message('assistant', content, {
    created_ms: 2_000,
    citations: [citationOf(SOURCE_1)],
    sources: [SOURCE_1, SOURCE_2],
    rerank: { status: 'ran', model: 'bge-reranker-v2' },
    model: 'qwen2.5-1.5b',
    stop: 'end',
    ...extra,
  });
}

function conversation(id: string, title: string, messages: Message[] = [], extra: Partial<Conversation> = {}): Conversation {
  return { id, title, created_ms: 1_000, updated_ms: 5_000, scope: { kind: 'library' }, messages, ...extra };
}

function summary(c: Conversation): ConversationSummary {
  return { id: c.id, title: c.title, created_ms: c.created_ms, updated_ms: c.updated_ms, messages: c.messages.length };
}

const SKY = conversation('c-sky', 'Why is the sky blue?', [
  message('user', 'Why is the sky blue?'),
  answer('Because of **scattering** [1].'),
]);
const OLD = conversation('c-old', 'Older talk', [], { updated_ms: 1_000 });

const OVERVIEW: LibraryOverview = {
  stats: { documents: 2, indexed: 2, failed: 0, chunks: 10, disk_bytes: 1000, embedding_model: 'embed' },
  documents: [
    {
      id: 'd1',
      path: '/docs/physics.pdf',
      format: 'pdf',
      title: 'Physics of the sky',
      content_hash: 'h',
      size: 1,
      mtime_ms: 1,
      pages: 3,
      chunk_count: 3,
      status: 'indexed',
      error: null,
      embedding_model: 'embed',
      updated_ms: 1,
    },
  ],
  collections: { Work: ['/docs'], Home: ['/home/notes'] },
  watched: [],
  watching: {},
  notices: [],
};

function chunk(index: number, text: string, start: number, page: number): Chunk {
  return {
    doc_id: 'd1',
    index,
    path: '/docs/physics.pdf',
    text,
    page_start: page,
    page_end: page,
    heading_path: [],
    char_start: start,
    char_end: start + text.length,
    tokens: 20,
    embedding_model: 'embed',
  };
}

const PAGE_1 = 'Light from the sun contains every colour. ';
const PAGE_2 = `Some context first. ${PASSAGE} `;
const PAGE_3 = 'Sunsets are red for the same reason.';

// The mocked `ask`: each call waits until the test streams its events and resolves or rejects it.
interface AskCall {
  request: AskRequest;
  emit: (event: AnswerEvent) => void;
  resolve: (c: Conversation) => void;
  reject: (e: unknown) => void;
}

function controlAsk(): AskCall[] {
  const calls: AskCall[] = [];
  vi.mocked(ask).mockImplementation(
    (request, onEvent) =>
      new Promise<Conversation>((resolve, reject) => {
        calls.push({ request, emit: onEvent, resolve, reject });
      }),
  );
  return calls;
}

function tokens(call: AskCall, ...texts: string[]): void {
  for (const text of texts) call.emit({ type: 'token', text });
}

beforeEach(() => {
  vi.resetAllMocks();
  vi.mocked(listConversations).mockResolvedValue([summary(SKY), summary(OLD)]);
  vi.mocked(getConversation).mockImplementation(async (id) => (id === SKY.id ? SKY : OLD));
  vi.mocked(getLibraryOverview).mockResolvedValue(OVERVIEW);
  vi.mocked(cancelAnswer).mockResolvedValue();
  vi.mocked(getDocumentView).mockResolvedValue({
    document: OVERVIEW.documents[0]!,
    chunks: [
      chunk(0, PAGE_1, 0, 1),
      // Overlaps the first chunk by "colour. ".
      chunk(1, `colour. ${PAGE_2}`, PAGE_1.length - 'colour. '.length, 2),
      chunk(2, PAGE_3, PAGE_1.length + PAGE_2.length, 3),
    ],
    file_changed: false,
  });
  vi.mocked(openPdf).mockImplementation(async () => fakePdf([[PAGE_1], ['Some context first.', PASSAGE], [PAGE_3]]));
});

async function openSky(user: ReturnType<typeof userEvent.setup>) {
  const item = await screen.findByRole('button', { name: /^Why is the sky blue\?/ });
  await user.click(item);
  return await screen.findByTestId('assistant-message');
}

// Tests ---------------------------------------------------------------------------------------------------

describe('ChatScreen: conversations', () => {
  it('lists the conversations, newest first', async () => {
    vi.mocked(listConversations).mockResolvedValue([summary(OLD), summary(SKY)]);
    render(ChatScreen);

    const list = await screen.findByTestId('conversation-list');
    const titles = within(list)
      .getAllByTestId('conversation-select')
      .map((b) => b.querySelector('.title')?.textContent);
    expect(titles).toEqual(['Why is the sky blue?', 'Older talk']);
    expect(screen.getByRole('navigation', { name: 'Conversations' })).toBeInTheDocument();
  });

  it('invites the first question when there are no conversations, and says when the library is empty', async () => {
    vi.mocked(listConversations).mockResolvedValue([]);
    vi.mocked(getLibraryOverview).mockResolvedValue({
      ...OVERVIEW,
      stats: { ...OVERVIEW.stats, documents: 0 },
      documents: [],
    });
    const onnavigate = vi.fn();
    const user = userEvent.setup();
    render(ChatScreen, { onnavigate });

    expect(await screen.findByRole('heading', { name: 'Ask your first question' })).toBeInTheDocument();
    const hint = await screen.findByTestId('library-empty-hint');
    await user.click(within(hint).getByRole('button', { name: 'Add documents' }));
    expect(onnavigate).toHaveBeenCalledWith('library');
  });

  it('opens a conversation and gives the question field the focus', async () => {
    const user = userEvent.setup();
    render(ChatScreen);

    await openSky(user);
    expect(getConversation).toHaveBeenCalledWith('c-sky');
    expect(screen.getByTestId('conversation-title')).toHaveTextContent('Why is the sky blue?');
    expect(screen.getByTestId('user-message')).toHaveTextContent('Why is the sky blue?');
    expect(screen.getByTestId('assistant-message')).toHaveTextContent('Because of scattering');
    expect(screen.getByRole('button', { name: /^Why is the sky blue\?/ })).toHaveAttribute('aria-current', 'true');
    await waitFor(() => expect(screen.getByTestId('question-input')).toHaveFocus());
  });

  it('starts a new conversation on the first question, titled by it', async () => {
    const calls = controlAsk();
    const created = conversation('c-new', 'What is light?');
    vi.mocked(createConversation).mockResolvedValue(created);
    const user = userEvent.setup();
    render(ChatScreen);
    await openSky(user);

    await user.click(screen.getByTestId('new-conversation'));
    expect(screen.getByTestId('question-input')).toHaveFocus();
    expect(screen.getByTestId('conversation-title')).toHaveTextContent('New conversation');
    expect(screen.getByTestId('chat-empty')).toBeInTheDocument();

    await user.type(screen.getByTestId('question-input'), 'What is light?{Enter}');
    // The question shows at once, before the conversation exists.
    expect(screen.getByTestId('user-message')).toHaveTextContent('What is light?');
    await waitFor(() => expect(calls).toHaveLength(1));
    expect(createConversation).toHaveBeenCalledWith('What is light?', { kind: 'library' });
    expect(calls[0]?.request).toMatchObject({ conversation_id: 'c-new', question: 'What is light?', regenerate: false });
    const list = screen.getByTestId('conversation-list');
    expect(within(list).getAllByTestId('conversation-item')[0]).toHaveAttribute('data-id', 'c-new');
  });

  it('renames a conversation in place (Enter saves, Escape cancels)', async () => {
    vi.mocked(renameConversation).mockResolvedValue({ ...SKY, title: 'Blue sky' });
    const user = userEvent.setup();
    render(ChatScreen);
    const item = (await screen.findAllByTestId('conversation-item'))[0]!;

    await user.click(within(item).getByTestId('rename-conversation'));
    const input = within(item).getByTestId('rename-input');
    expect(input).toHaveFocus();
    await user.keyboard('{Escape}');
    expect(within(item).queryByTestId('rename-input')).not.toBeInTheDocument();
    expect(renameConversation).not.toHaveBeenCalled();

    await user.click(within(item).getByTestId('rename-conversation'));
    await user.clear(within(item).getByTestId('rename-input'));
    await user.type(within(item).getByTestId('rename-input'), 'Blue sky{Enter}');
    expect(renameConversation).toHaveBeenCalledWith('c-sky', 'Blue sky');
    await waitFor(() => expect(within(item).getByTestId('conversation-select')).toHaveTextContent('Blue sky'));
    expect(within(item).getByTestId('conversation-select')).toHaveFocus();
  });

  it('deletes a conversation only after the inline confirmation', async () => {
    vi.mocked(deleteConversation).mockResolvedValue();
    const user = userEvent.setup();
    render(ChatScreen);
    await openSky(user);
    const item = screen.getAllByTestId('conversation-item')[0]!;

    await user.click(within(item).getByTestId('delete-conversation'));
    expect(within(item).getByTestId('cancel-delete')).toHaveFocus();
    await user.click(within(item).getByTestId('cancel-delete'));
    expect(deleteConversation).not.toHaveBeenCalled();

    await user.click(within(item).getByTestId('delete-conversation'));
    await user.click(within(item).getByTestId('confirm-delete'));
    expect(deleteConversation).toHaveBeenCalledWith('c-sky');
    await waitFor(() => expect(screen.getAllByTestId('conversation-item')).toHaveLength(1));
    // The open conversation was the deleted one: the pane is a new conversation again.
    expect(screen.getByTestId('conversation-title')).toHaveTextContent('New conversation');
  });

  it('shows why a delete failed', async () => {
    vi.mocked(deleteConversation).mockRejectedValue(new IpcError('io', 'read-only disk'));
    const user = userEvent.setup();
    render(ChatScreen);
    const item = (await screen.findAllByTestId('conversation-item'))[0]!;

    await user.click(within(item).getByTestId('delete-conversation'));
    await user.click(within(item).getByTestId('confirm-delete'));
    expect(await within(item).findByTestId('conversation-error')).toHaveTextContent('Could not delete: read-only disk');
    expect(screen.getAllByTestId('conversation-item')).toHaveLength(2);
  });

  it('exports as Markdown or JSON to the path chosen in the save dialog', async () => {
    vi.mocked(chooseSavePath).mockResolvedValueOnce('/home/ada/sky.md').mockResolvedValueOnce(null);
    vi.mocked(exportConversation).mockResolvedValue();
    const user = userEvent.setup();
    render(ChatScreen);
    const item = (await screen.findAllByTestId('conversation-item'))[0]!;

    await user.click(within(item).getByTestId('export-conversation'));
    await user.click(within(item).getByTestId('export-markdown'));
    expect(chooseSavePath).toHaveBeenCalledWith('Why is the sky blue.md');
    await waitFor(() => expect(exportConversation).toHaveBeenCalledWith('c-sky', 'markdown', '/home/ada/sky.md'));
    expect(await within(item).findByTestId('export-status')).toHaveTextContent('Exported to sky.md');

    // A cancelled save dialog writes nothing.
    await user.click(within(item).getByTestId('export-conversation'));
    await user.click(within(item).getByTestId('export-json'));
    expect(chooseSavePath).toHaveBeenLastCalledWith('Why is the sky blue.json');
    await tick();
    expect(exportConversation).toHaveBeenCalledTimes(1);
  });
});

describe('ChatScreen: scope', () => {
  it('shows the scope and changes it, reading collections and documents when the picker opens', async () => {
    vi.mocked(setConversationScope).mockResolvedValue({ ...SKY, scope: { kind: 'collection', name: 'Work' } });
    const user = userEvent.setup();
    render(ChatScreen);
    await openSky(user);
    expect(screen.getByTestId('scope-label')).toHaveTextContent('Whole library');
    expect(getLibraryOverview).not.toHaveBeenCalled();

    await user.click(screen.getByTestId('scope-button'));
    const picker = screen.getByTestId('scope-picker');
    expect(getLibraryOverview).toHaveBeenCalled();
    const work = await within(picker).findByRole('button', { name: /Work/ });
    expect(within(picker).getByRole('button', { name: /Physics of the sky/ })).toHaveAttribute('data-value', '/docs/physics.pdf');

    await user.click(work);
    expect(setConversationScope).toHaveBeenCalledWith('c-sky', { kind: 'collection', name: 'Work' });
    await waitFor(() => expect(screen.getByTestId('scope-label')).toHaveTextContent('Collection: Work'));
    expect(screen.queryByTestId('scope-picker')).not.toBeInTheDocument();
    expect(screen.getByTestId('scope-button')).toHaveFocus();
  });

  it('gives a new conversation the scope chosen before its first question', async () => {
    controlAsk();
    vi.mocked(listConversations).mockResolvedValue([]);
    vi.mocked(createConversation).mockResolvedValue(conversation('c-doc', 'Q', [], { scope: { kind: 'path', path: '/docs/physics.pdf' } }));
    const user = userEvent.setup();
    render(ChatScreen);

    await user.click(screen.getByTestId('scope-button'));
    await user.click(await screen.findByRole('button', { name: /Physics of the sky/ }));
    expect(screen.getByTestId('scope-label')).toHaveTextContent('Document: physics.pdf');
    expect(setConversationScope).not.toHaveBeenCalled();

    await user.type(screen.getByTestId('question-input'), 'Q{Enter}');
    expect(createConversation).toHaveBeenCalledWith('Q', { kind: 'path', path: '/docs/physics.pdf' });
  });
});

describe('ChatScreen: asking', () => {
  it('streams the answer, with its steps, and then shows the saved conversation', async () => {
    const calls = controlAsk();
    const user = userEvent.setup();
    render(ChatScreen);
    await openSky(user);

    const input = screen.getByTestId('question-input');
    await user.type(input, 'And at sunset?{Enter}');
    expect(input).toHaveValue('');
    expect(input).toHaveFocus();
    expect(screen.getAllByTestId('user-message').at(-1)).toHaveTextContent('And at sunset?');
    const live = screen.getAllByTestId('assistant-message').at(-1)!;
    expect(live).toHaveAttribute('data-streaming', 'true');
    expect(screen.getByTestId('send')).toBeDisabled();
    expect(screen.getByTestId('stop')).toBeEnabled();
    expect(screen.getByTestId('chat-status')).toHaveTextContent('Searching your library');

    const call = calls[0]!;
    expect(call.request).toMatchObject({ conversation_id: 'c-sky', question: 'And at sunset?', regenerate: false });
    expect(call.request.request_id).toBeTruthy();

    call.emit({ type: 'rewritten', query: 'Why is the sky red at sunset?' });
    call.emit({ type: 'retrieved', chunks: 6, duplicates_removed: 1, best_similarity: 0.8 });
    call.emit({ type: 'rerank', status: 'skipped', reason: 'no reranker model is installed' });
    call.emit({ type: 'sources', sources: [SOURCE_1, SOURCE_2], dropped_sources: 1, dropped_history: 0, prompt_tokens: 900 });
    call.emit({ type: 'prompt', tokens: 912, cached: 400 });
    tokens(call, 'Sunsets ', 'are **red** ', '[2]', ' and [7].');

    const steps = await within(live).findByTestId('answer-steps');
    await waitFor(() => expect(live.querySelector('strong')).toHaveTextContent('red'));
    expect(steps).toHaveTextContent('Searching for: Why is the sky red at sunset?');
    expect(steps).toHaveTextContent('Found 6 passages');
    expect(steps).toHaveTextContent('Not reranked: no reranker model is installed');
    expect(steps).toHaveTextContent('912 tokens');
    // While streaming, chips point at the sources given to the model; [7] is not one of them.
    const chips = within(live).getAllByTestId('citation-chip');
    expect(chips.map((c) => c.getAttribute('data-n'))).toEqual(['2']);
    expect(live).toHaveTextContent('and [7].');
    expect(within(live).getByTestId('sources-panel')).toHaveTextContent('Sources (2)');
    expect(within(live).getByTestId('dropped-note')).toHaveTextContent("1 more passage did not fit the model's context window");
    expect(screen.getByTestId('chat-status')).toHaveTextContent('Writing the answer');

    const saved = answer('Sunsets are **red** [2].', {
      created_ms: 4_000,
      citations: [citationOf(SOURCE_2)],
      rerank: { status: 'skipped', reason: 'no reranker model is installed' },
    });
    call.resolve({
      ...SKY,
      updated_ms: 9_000,
      messages: [...SKY.messages, message('user', 'And at sunset?', { created_ms: 3_000 }), saved],
    });

    await waitFor(() => expect(screen.getAllByTestId('assistant-message').at(-1)).toHaveAttribute('data-streaming', 'false'));
    const done = screen.getAllByTestId('assistant-message').at(-1)!;
    expect(done).toHaveTextContent('Sunsets are red');
    expect(within(done).queryByTestId('answer-steps')).not.toBeInTheDocument();
    expect(within(done).getByTestId('citation-source')).toHaveTextContent('notes.md');
    // What did not fit is remembered for the saved answer.
    expect(within(done).getByTestId('dropped-note')).toBeInTheDocument();
    expect(screen.queryByTestId('stop')).not.toBeInTheDocument();
    expect(screen.getByTestId('chat-status')).toHaveTextContent('Answer ready.');
    expect(screen.getAllByTestId('user-message')).toHaveLength(2);
  });

  it('updates the answer at most once per animation frame', async () => {
    const calls = controlAsk();
    const user = userEvent.setup();
    render(ChatScreen);
    await openSky(user);
    await user.type(screen.getByTestId('question-input'), 'Q{Enter}');

    const live = screen.getAllByTestId('assistant-message').at(-1)!;
    tokens(calls[0]!, 'one ', 'two ', 'three');
    await Promise.resolve();
    await tick();
    // The tokens wait for the next frame, then arrive together.
    expect(live).not.toHaveTextContent('one');
    await waitFor(() => expect(live).toHaveTextContent('one two three'));
  });

  it('sends with Enter, not with Shift+Enter, and not while an answer is written', async () => {
    const calls = controlAsk();
    const user = userEvent.setup();
    render(ChatScreen);
    await openSky(user);
    const input = screen.getByTestId('question-input');

    await user.type(input, 'line one{Shift>}{Enter}{/Shift}line two');
    expect(input).toHaveValue('line one\nline two');
    expect(ask).not.toHaveBeenCalled();

    await user.click(screen.getByTestId('send'));
    expect(calls[0]?.request.question).toBe('line one\nline two');

    await user.type(input, 'next question{Enter}');
    expect(ask).toHaveBeenCalledTimes(1);
    expect(input).toHaveValue('next question');
  });

  it('stops an answer with the same request id and keeps it, marked "stopped"', async () => {
    const calls = controlAsk();
    const user = userEvent.setup();
    render(ChatScreen);
    await openSky(user);
    await user.type(screen.getByTestId('question-input'), 'Tell me more{Enter}');
    tokens(calls[0]!, 'Partial answer');

    await user.click(screen.getByTestId('stop'));
    expect(cancelAnswer).toHaveBeenCalledWith(calls[0]!.request.request_id);
    expect(screen.getByTestId('question-input')).toHaveFocus();
    expect(screen.getByTestId('stop')).toBeDisabled();

    calls[0]!.resolve({
      ...SKY,
      messages: [
        ...SKY.messages,
        message('user', 'Tell me more', { created_ms: 3_000 }),
        answer('Partial answer', { created_ms: 4_000, stop: 'cancelled', notice: 'stopped', citations: [] }),
      ],
    });
    const stopped = await waitFor(() => {
      const last = screen.getAllByTestId('assistant-message').at(-1)!;
      expect(last).toHaveAttribute('data-streaming', 'false');
      return last;
    });
    expect(stopped).toHaveTextContent('Partial answer');
    expect(within(stopped).getByTestId('message-notice')).toHaveTextContent('stopped');
    expect(screen.getByTestId('chat-status')).toHaveTextContent('Answer stopped.');
  });

  it('keeps an answer stopped before its first word, and asks it again on request', async () => {
    const calls = controlAsk();
    const user = userEvent.setup();
    render(ChatScreen);
    await openSky(user);
    await user.type(screen.getByTestId('question-input'), 'And then?{Enter}');
    await user.click(screen.getByTestId('stop'));
    // Stopped while the follow-up was being rewritten: Rust saves nothing and says "cancelled".
    calls[0]!.reject(new IpcError('cancelled', 'the operation was cancelled'));

    await waitFor(() => expect(screen.getAllByTestId('assistant-message')).toHaveLength(2));
    const stopped = screen.getAllByTestId('assistant-message')[1]!;
    expect(stopped).toHaveAttribute('data-streaming', 'false');
    expect(stopped).toHaveTextContent('stopped');
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
    expect(screen.getAllByTestId('user-message').at(-1)).toHaveTextContent('And then?');

    await user.click(within(stopped).getByRole('button', { name: 'Ask again' }));
    expect(calls[1]?.request).toMatchObject({ question: 'And then?', regenerate: false });
  });

  it('replaces the streamed text when Quire matches the citations itself', async () => {
    const calls = controlAsk();
    const user = userEvent.setup();
    render(ChatScreen);
    await openSky(user);
    await user.type(screen.getByTestId('question-input'), 'Q{Enter}');

    const call = calls[0]!;
    call.emit({ type: 'sources', sources: [SOURCE_1], dropped_sources: 0, dropped_history: 0, prompt_tokens: 100 });
    tokens(call, 'Air scatters blue light.');
    call.emit({ type: 'cited', text: 'Air scatters blue light [1].' });
    const live = screen.getAllByTestId('assistant-message').at(-1)!;
    await waitFor(() => expect(within(live).getByTestId('citation-chip')).toHaveAttribute('data-n', '1'));
    expect(live).toHaveTextContent('Air scatters blue light');
    expect(live.textContent?.match(/Air scatters/g)).toHaveLength(1);

    call.resolve({
      ...SKY,
      messages: [...SKY.messages, message('user', 'Q'), answer('Air scatters blue light [1].', { attributed: true })],
    });
    await waitFor(() => expect(screen.getByTestId('attributed-note')).toBeInTheDocument());
  });

  it('regenerates the last answer for the last question', async () => {
    const calls = controlAsk();
    const user = userEvent.setup();
    render(ChatScreen);
    const first = await openSky(user);

    await user.click(within(first).getByTestId('regenerate'));
    expect(calls[0]?.request).toMatchObject({ conversation_id: 'c-sky', question: 'Why is the sky blue?', regenerate: true });
    // The answer being replaced steps aside for the new one; the question is not repeated.
    const answers = screen.getAllByTestId('assistant-message');
    expect(answers).toHaveLength(1);
    expect(answers[0]).toHaveAttribute('data-streaming', 'true');
    expect(screen.getAllByTestId('user-message')).toHaveLength(1);

    calls[0]!.resolve({ ...SKY, messages: [SKY.messages[0]!, answer('A new answer [1].')] });
    await waitFor(() => expect(screen.getByTestId('assistant-message')).toHaveTextContent('A new answer'));
  });

  it('offers Regenerate on the last answer only', async () => {
    const two = conversation('c-two', 'Two', [
      message('user', 'First?'),
      answer('One [1].'),
      message('user', 'Second?', { created_ms: 3_000 }),
      answer('Two [1].', { created_ms: 4_000 }),
    ]);
    vi.mocked(listConversations).mockResolvedValue([summary(two)]);
    vi.mocked(getConversation).mockResolvedValue(two);
    const user = userEvent.setup();
    render(ChatScreen);
    await user.click(await screen.findByRole('button', { name: /^Two/ }));

    const answers = await screen.findAllByTestId('assistant-message');
    expect(within(answers[0]!).queryByTestId('regenerate')).not.toBeInTheDocument();
    expect(within(answers[1]!).getByTestId('regenerate')).toBeInTheDocument();
  });

  it('copies an answer as Markdown', async () => {
    const user = userEvent.setup();
    render(ChatScreen);
    const first = await openSky(user);

    await user.click(within(first).getByTestId('copy-message'));
    expect(await navigator.clipboard.readText()).toBe('Because of **scattering** [1].');
    expect(within(first).getByTestId('copy-status')).toHaveTextContent('Copied');
  });
});

describe('ChatScreen: citations and sources', () => {
  it('renders chips for citations and lists the cited documents under the answer', async () => {
    const user = userEvent.setup();
    render(ChatScreen);
    const first = await openSky(user);

    const chip = within(first).getByTestId('citation-chip');
    expect(chip).toHaveAttribute('data-n', '1');
    expect(chip).toHaveAccessibleName('Source 1: Physics of the sky, p. 2');
    expect(within(first).getByTestId('citation-source')).toHaveTextContent('Physics of the sky');
    expect(within(first).getByTestId('citation-source')).toHaveTextContent('p. 2');
  });

  it('opens the cited page with the passage marked, and closes with Escape', async () => {
    vi.mocked(openDocument).mockResolvedValue();
    vi.mocked(revealDocument).mockResolvedValue();
    const user = userEvent.setup();
    render(ChatScreen);
    const first = await openSky(user);

    const chip = within(first).getByTestId('citation-chip');
    await user.click(chip);
    const viewer = await screen.findByTestId('source-viewer');
    expect(getDocumentView).toHaveBeenCalledWith('/docs/physics.pdf');

    // A PDF opens on its cited page, drawn, with the passage marked over it.
    expect(await within(viewer).findByTestId('pdf-view')).toBeInTheDocument();
    expect(openPdf).toHaveBeenCalledWith('/docs/physics.pdf');
    const canvas = within(viewer).getByTestId('pdf-canvas');
    await waitFor(() => expect(canvas.dataset.drawn).toBe('2'));
    await waitFor(() => expect(within(viewer).getAllByTestId('pdf-mark')).toHaveLength(1));
    expect(within(viewer).getByTestId('viewer-mode-pages')).toHaveAttribute('aria-selected', 'true');
    expect(within(viewer).queryByTestId('file-changed')).not.toBeInTheDocument();

    // Its text is one click away.
    await user.click(within(viewer).getByRole('tab', { name: 'Text' }));
    const page = await within(viewer).findByTestId('viewer-page');
    expect(page).toHaveTextContent('Page 2');
    expect(within(viewer).getByTestId('cited-passage')).toHaveTextContent(PASSAGE);
    // Overlapping chunks: the shared words appear once, under the page of the chunk that starts with them.
    expect(viewer.textContent?.match(/colour\./g)).toHaveLength(1);
    expect(page.parentElement).toHaveTextContent('colour. Some context first.');
    expect(within(viewer).getAllByRole('heading', { level: 3 }).map((h) => h.textContent?.trim())).toEqual([
      'Page 1',
      'Page 2',
      'Page 3',
    ]);

    await user.click(within(viewer).getByRole('button', { name: 'Open in default app' }));
    expect(openDocument).toHaveBeenCalledWith('/docs/physics.pdf');
    await user.click(within(viewer).getByRole('button', { name: 'Show in folder' }));
    expect(revealDocument).toHaveBeenCalledWith('/docs/physics.pdf');

    await user.keyboard('{Escape}');
    expect(screen.queryByTestId('source-viewer')).not.toBeInTheDocument();
    expect(chip).toHaveFocus();
  });

  it('never inserts the document text as HTML', async () => {
    vi.mocked(getDocumentView).mockResolvedValue({
      document: OVERVIEW.documents[0]!,
      chunks: [chunk(0, `<img src=x onerror="alert(1)"> ${PASSAGE}`, 0, 2)],
      file_changed: true,
    });
    const user = userEvent.setup();
    render(ChatScreen);
    const first = await openSky(user);
    await user.click(within(first).getByTestId('citation-chip'));

    const viewer = await screen.findByTestId('source-viewer');
    expect(await within(viewer).findByTestId('file-changed')).toHaveTextContent('changed after it was indexed');
    await user.click(within(viewer).getByRole('tab', { name: 'Text' }));
    await within(viewer).findByTestId('cited-passage');
    expect(viewer.querySelector('img')).toBeNull();
    expect(viewer).toHaveTextContent('<img src=x onerror="alert(1)">');
  });

  it('closes the viewer with its close button and shows a read error in place', async () => {
    vi.mocked(getDocumentView).mockRejectedValue(new IpcError('not_found', 'The document is no longer in the library.'));
    const user = userEvent.setup();
    render(ChatScreen);
    const first = await openSky(user);
    await user.click(within(first).getByTestId('citation-source'));

    const viewer = await screen.findByTestId('source-viewer');
    expect(await within(viewer).findByRole('alert')).toHaveTextContent('no longer in the library');
    await user.click(within(viewer).getByRole('button', { name: 'Close source' }));
    expect(screen.queryByTestId('source-viewer')).not.toBeInTheDocument();
  });

  it('shows what the answer was built from: scores, pages and the reranker', async () => {
    const user = userEvent.setup();
    render(ChatScreen);
    const first = await openSky(user);

    const panel = within(first).getByTestId('sources-panel');
    const toggle = within(panel).getByRole('button', { name: 'Sources (2)' });
    expect(toggle).toHaveAttribute('aria-expanded', 'false');
    expect(within(panel).getByTestId('rerank-status')).toHaveTextContent('Reranked by bge-reranker-v2');

    await user.click(toggle);
    expect(toggle).toHaveAttribute('aria-expanded', 'true');
    const items = within(panel).getAllByTestId('source-item');
    expect(items).toHaveLength(2);
    expect(items[0]).toHaveTextContent('Physics of the sky');
    expect(items[0]).toHaveTextContent('p. 2');
    expect(items[0]).toHaveTextContent('score 0.87');
    expect(items[0]).toHaveTextContent('The sky is blue because');
    expect(items[1]).toHaveTextContent('notes.md');
    expect(items[1]).toHaveTextContent('Colours');
    expect(items[1]).toHaveTextContent('score 0.41');

    // A source opens in the viewer too.
    await user.click(within(items[0]!).getByRole('button', { name: /Open source 1/ }));
    expect(await screen.findByTestId('source-viewer')).toBeInTheDocument();
  });
});

describe('ChatScreen: errors', () => {
  async function askAndFail(error: IpcError, props: Record<string, unknown> = {}) {
    const calls = controlAsk();
    const user = userEvent.setup();
    render(ChatScreen, props);
    await openSky(user);
    await user.type(screen.getByTestId('question-input'), 'Will it rain?{Enter}');
    calls[0]!.reject(error);
    const problem = await screen.findByTestId('chat-error');
    return { calls, user, problem };
  }

  it('sends a missing model to the Models screen', async () => {
    const onnavigate = vi.fn();
    const { user, problem } = await askAndFail(new IpcError('model_missing', 'No chat model is installed.'), {
      onnavigate,
    });
    expect(problem).toHaveAttribute('data-error-kind', 'model_missing');
    expect(problem).toHaveTextContent('No chat model is installed.');
    await user.click(within(problem).getByRole('button', { name: 'Open Models' }));
    expect(onnavigate).toHaveBeenCalledWith('models');
    // The question stays on screen with its error.
    expect(screen.getAllByTestId('user-message').at(-1)).toHaveTextContent('Will it rain?');
  });

  it('offers Retry when the model worker crashed, asking the same question again', async () => {
    const { calls, user, problem } = await askAndFail(new IpcError('worker_crashed', 'the llm worker exited'));
    expect(problem).toHaveTextContent('The model stopped unexpectedly');

    await user.click(within(problem).getByRole('button', { name: 'Retry' }));
    expect(calls).toHaveLength(2);
    expect(calls[1]?.request).toMatchObject({ conversation_id: 'c-sky', question: 'Will it rain?', regenerate: false });
    expect(calls[1]?.request.request_id).not.toBe(calls[0]?.request.request_id);
    expect(screen.queryByTestId('chat-error')).not.toBeInTheDocument();
    expect(screen.getAllByTestId('assistant-message').at(-1)).toHaveAttribute('data-streaming', 'true');
  });

  it('shows any other error with its message and Retry', async () => {
    const { problem } = await askAndFail(new IpcError('store', 'The index is locked.'));
    expect(problem).toHaveAttribute('role', 'alert');
    expect(problem).toHaveTextContent('The index is locked.');
    expect(within(problem).getByRole('button', { name: 'Retry' })).toBeInTheDocument();
  });

  it('says when the library has nothing on the question, with the way to the Library', async () => {
    const missing = conversation('c-miss', 'Cats?', [
      message('user', 'Cats?'),
      answer('Your library does not seem to contain anything about this.', {
        not_in_library: true,
        citations: [],
        sources: [],
        rerank: null,
        notice: 'nothing in the library is close enough to the question',
      }),
    ]);
    vi.mocked(listConversations).mockResolvedValue([summary(missing)]);
    vi.mocked(getConversation).mockResolvedValue(missing);
    const onnavigate = vi.fn();
    const user = userEvent.setup();
    render(ChatScreen, { onnavigate });
    await user.click(await screen.findByRole('button', { name: /^Cats\?/ }));

    const note = await screen.findByTestId('chat-error');
    expect(note).toHaveAttribute('data-error-kind', 'not_in_library');
    expect(note).toHaveTextContent('Not found in your library');
    await user.click(within(note).getByRole('button', { name: 'Go to Library' }));
    expect(onnavigate).toHaveBeenCalledWith('library');
  });

  it('shows a conversation list that cannot be read, with a way to try again', async () => {
    vi.mocked(listConversations).mockRejectedValueOnce(new IpcError('store', 'database is locked'));
    const user = userEvent.setup();
    render(ChatScreen);

    expect(await screen.findByRole('alert')).toHaveTextContent('database is locked');
    await user.click(screen.getByRole('button', { name: 'Try again' }));
    expect(await screen.findByTestId('conversation-list')).toBeInTheDocument();
  });
});
