import { beforeEach, describe, expect, it, vi } from 'vitest';
import { ask, cancelAnswer, createConversation, getConversation, listConversations } from '$lib/ipc/commands';
import { IpcError, type Conversation } from '$lib/ipc';
import { ChatSession, newRequestId } from '$lib/chat/session.svelte';

vi.mock('$lib/ipc/commands');

const EMPTY: Conversation = {
  id: 'c1',
  title: 'Q',
  created_ms: 1,
  updated_ms: 2,
  scope: { kind: 'library' },
  messages: [],
};

beforeEach(() => {
  vi.resetAllMocks();
  vi.mocked(cancelAnswer).mockResolvedValue();
});

describe('ChatSession', () => {
  it('gives every answer its own request id', () => {
    const ids = new Set(Array.from({ length: 50 }, () => newRequestId()));
    expect(ids.size).toBe(50);
  });

  it('sorts the list newest first and copes with an empty answer', async () => {
    vi.mocked(listConversations).mockResolvedValue([
      { id: 'a', title: 'A', created_ms: 1, updated_ms: 10, messages: 0 },
      { id: 'b', title: 'B', created_ms: 1, updated_ms: 30, messages: 0 },
    ]);
    const session = new ChatSession();
    await session.load();
    expect(session.conversations.map((c) => c.id)).toEqual(['b', 'a']);
    expect(session.listState).toBe('ready');
  });

  it('does not ask an empty question', async () => {
    const session = new ChatSession();
    expect(await session.send('   \n ')).toBe(false);
    expect(createConversation).not.toHaveBeenCalled();
  });

  it('keeps the question when the conversation cannot be created, and Retry creates it', async () => {
    vi.mocked(createConversation)
      .mockRejectedValueOnce(new IpcError('store', 'disk full'))
      .mockResolvedValueOnce(EMPTY);
    vi.mocked(ask).mockResolvedValue({ ...EMPTY, messages: [] });
    const session = new ChatSession();

    await session.send('What is X?');
    expect(session.failure).toMatchObject({ conversationId: null, question: 'What is X?' });
    expect(session.failureHere).not.toBeNull();
    expect(session.live).toBeNull();

    await session.retry();
    expect(createConversation).toHaveBeenCalledTimes(2);
    expect(vi.mocked(ask).mock.calls[0]?.[0]).toMatchObject({ conversation_id: 'c1', question: 'What is X?' });
    expect(session.selectedId).toBe('c1');
    expect(session.failure).toBeNull();
  });

  it('treats an answer stopped before it began as stopped, not as an error', async () => {
    vi.mocked(getConversation).mockResolvedValue(EMPTY);
    vi.mocked(ask).mockRejectedValue(new IpcError('cancelled', 'cancelled'));
    const session = new ChatSession();
    await session.select('c1');
    await session.send('Q');
    expect(session.failure?.error.kind).toBe('cancelled');
    expect(session.status).toBe('Answer stopped.');
  });

  it('asks one question at a time and stops only once', async () => {
    vi.mocked(getConversation).mockResolvedValue(EMPTY);
    vi.mocked(ask).mockReturnValue(new Promise(() => {}));
    const session = new ChatSession();
    await session.select('c1');
    void session.send('First');
    await Promise.resolve();
    expect(session.answering).toBe(true);
    expect(await session.send('Second')).toBe(false);

    session.stop();
    session.stop();
    expect(cancelAnswer).toHaveBeenCalledTimes(1);
    expect(session.live?.stopping).toBe(true);
  });

  it('shows an answer only in its own conversation', async () => {
    vi.mocked(getConversation).mockImplementation(async (id) => ({ ...EMPTY, id }));
    vi.mocked(ask).mockReturnValue(new Promise(() => {}));
    const session = new ChatSession();
    await session.select('c1');
    void session.send('Q');
    await Promise.resolve();
    expect(session.liveHere).not.toBeNull();

    await session.select('c2');
    expect(session.liveHere).toBeNull();
    expect(session.answering).toBe(true);
  });
});
