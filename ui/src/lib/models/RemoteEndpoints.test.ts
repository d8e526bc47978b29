import { render, screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  apiKeyStatus,
  deleteApiKey,
  getSettings,
  saveSettings,
  setApiKey,
  testRemote,
} from '$lib/ipc/commands';
import { IpcError, type KeyStatus, type RemoteRole, type SavedSettings, type Settings } from '$lib/ipc';
import RemoteEndpoints from './RemoteEndpoints.svelte';

vi.mock('$lib/ipc/commands');

const SECRET = 'sk-very-secret-key';

function settings(remote: Settings['remote'] = { chat: null, embedding: null }): Settings {
  return {
    generation: { temperature: 0.2, top_p: 0.95, max_tokens: 512, repeat_penalty: 1.1 },
    retrieval: { top_k: 8, chunk_tokens: 256, chunk_overlap: 32 },
    runtime: { gpu_layers: 'none', context_size: 4096, threads: 0 },
    models: { chat: null, embedding: null, reranker: null },
    appearance: { theme: 'dark' },
    remote,
  };
}

const NOT_STORED: KeyStatus = { stored: false, keychain: true, from_environment: false, detail: null };
const STORED: KeyStatus = { stored: true, keychain: true, from_environment: false, detail: null };

let saved: Settings;

function section(role: RemoteRole): HTMLElement {
  return screen.getByTestId(`remote-${role}`);
}

beforeEach(() => {
  vi.resetAllMocks();
  localStorage.clear();
  saved = settings({ chat: { base_url: 'http://localhost:11434/v1', model: 'llama3.1:8b' }, embedding: null });
  vi.mocked(getSettings).mockImplementation(async () => structuredClone(saved));
  vi.mocked(saveSettings).mockImplementation(async (next: Settings): Promise<SavedSettings> => {
    saved = structuredClone(next);
    return { settings: structuredClone(next), reindexing: false, switching: false, notice: null };
  });
  vi.mocked(apiKeyStatus).mockResolvedValue(NOT_STORED);
});

afterEach(() => {
  // The key is never kept in the window's storage.
  expect(JSON.stringify({ ...localStorage })).not.toContain(SECRET);
  expect(JSON.stringify({ ...sessionStorage })).not.toContain(SECRET);
});

describe('RemoteEndpoints', () => {
  it('shows each role’s saved server and whether a key is stored', async () => {
    vi.mocked(apiKeyStatus).mockImplementation(async (role) => (role === 'chat' ? STORED : NOT_STORED));
    render(RemoteEndpoints);

    const chat = section('chat');
    await waitFor(() => expect(within(chat).getByTestId('remote-chat-url')).toHaveValue('http://localhost:11434/v1'));
    expect(within(chat).getByTestId('remote-chat-model')).toHaveValue('llama3.1:8b');
    expect(within(chat).getByTestId('remote-chat-current')).toHaveTextContent('In use: http://localhost:11434/v1');
    await waitFor(() =>
      expect(within(chat).getByTestId('remote-chat-key-status')).toHaveTextContent('Key stored in the system keychain'),
    );
    expect(within(chat).getByTestId('remote-chat-remove-key')).toBeInTheDocument();

    const embedding = section('embedding');
    expect(within(embedding).getByTestId('remote-embedding-current')).toHaveTextContent('the local model is used');
    expect(within(embedding).getByTestId('remote-embedding-key-status')).toHaveTextContent('No key stored');
    expect(within(embedding).queryByTestId('remote-embedding-remove-key')).not.toBeInTheDocument();
  });

  it('saves an endpoint into the settings, keeping the others, and says the library is indexed again', async () => {
    const user = userEvent.setup();
    vi.mocked(saveSettings).mockImplementation(async (next) => {
      saved = structuredClone(next);
      return { settings: structuredClone(next), reindexing: true, switching: false, notice: null };
    });
    render(RemoteEndpoints);
    const embedding = section('embedding');
    await waitFor(() => expect(apiKeyStatus).toHaveBeenCalledWith('embedding'));

    await user.type(within(embedding).getByTestId('remote-embedding-url'), ' http://gpu-box:8080 ');
    await user.type(within(embedding).getByTestId('remote-embedding-model'), 'nomic-embed-text');
    await user.click(within(embedding).getByTestId('remote-embedding-save'));

    await waitFor(() => expect(saveSettings).toHaveBeenCalledTimes(1));
    const next = vi.mocked(saveSettings).mock.calls[0]![0];
    expect(next.remote).toEqual({
      chat: { base_url: 'http://localhost:11434/v1', model: 'llama3.1:8b' },
      embedding: { base_url: 'http://gpu-box:8080', model: 'nomic-embed-text' },
    });
    expect(next.appearance.theme).toBe('dark');
    expect(await within(embedding).findByTestId('remote-embedding-done')).toHaveTextContent(
      'The library is being indexed again with the new model.',
    );
    expect(within(embedding).getByTestId('remote-embedding-current')).toHaveTextContent('model nomic-embed-text');
  });

  it('says the library is embedded with the new server in the background when the save starts a switch', async () => {
    const user = userEvent.setup();
    vi.mocked(saveSettings).mockImplementation(async (next) => {
      saved = structuredClone(next);
      return { settings: structuredClone(next), reindexing: true, switching: true, notice: null };
    });
    const onswitching = vi.fn();
    render(RemoteEndpoints, { onswitching });
    const embedding = section('embedding');
    await waitFor(() => expect(apiKeyStatus).toHaveBeenCalledWith('embedding'));

    await user.type(within(embedding).getByTestId('remote-embedding-url'), 'http://gpu-box:8080');
    await user.type(within(embedding).getByTestId('remote-embedding-model'), 'nomic-embed-text');
    await user.click(within(embedding).getByTestId('remote-embedding-save'));

    const done = await within(embedding).findByTestId('remote-embedding-done');
    expect(done).toHaveTextContent(
      'Saved. Embedding the library with the new model in the background; search uses the current one until it is done.',
    );
    expect(done).not.toHaveTextContent('indexed again');
    expect(onswitching).toHaveBeenCalledTimes(1);
  });

  it('shows the settings validator’s sentence when the address is refused', async () => {
    const user = userEvent.setup();
    vi.mocked(saveSettings).mockRejectedValue(
      new IpcError(
        'invalid_input',
        'The remote embedding server’s address must start with http:// or https:// (it is "gpu-box:8080").',
      ),
    );
    render(RemoteEndpoints);
    const embedding = section('embedding');
    await user.type(within(embedding).getByTestId('remote-embedding-url'), 'gpu-box:8080');
    await user.type(within(embedding).getByTestId('remote-embedding-model'), 'e');
    await user.click(within(embedding).getByTestId('remote-embedding-save'));

    const error = await within(embedding).findByTestId('remote-embedding-error');
    expect(error).toHaveTextContent('must start with http:// or https://');
    expect(error).toHaveAttribute('data-error-kind', 'invalid_input');
  });

  it('sends the key to the keychain once, clears the field and says it is stored', async () => {
    const user = userEvent.setup();
    vi.mocked(setApiKey).mockResolvedValue(STORED);
    render(RemoteEndpoints);
    const chat = section('chat');
    await waitFor(() => expect(within(chat).getByTestId('remote-chat-url')).toHaveValue('http://localhost:11434/v1'));

    const field = within(chat).getByTestId('remote-chat-key');
    expect(field).toHaveAttribute('type', 'password');
    await user.type(field, SECRET);
    await user.click(within(chat).getByTestId('remote-chat-save-key'));

    await waitFor(() => expect(setApiKey).toHaveBeenCalledWith('chat', SECRET));
    expect(saveSettings).not.toHaveBeenCalled(); // the endpoint was already saved
    expect(field).toHaveValue('');
    expect(await within(chat).findByTestId('remote-chat-key-status')).toHaveTextContent(
      'Key stored in the system keychain',
    );
    expect(JSON.stringify(saved)).not.toContain(SECRET);
    expect(document.body.innerHTML).not.toContain(SECRET);
  });

  it('saves a changed endpoint before its key (a key belongs to one server)', async () => {
    const user = userEvent.setup();
    vi.mocked(setApiKey).mockResolvedValue(STORED);
    render(RemoteEndpoints);
    const embedding = section('embedding');
    await user.type(within(embedding).getByTestId('remote-embedding-url'), 'https://api.example.org/v1');
    await user.type(within(embedding).getByTestId('remote-embedding-model'), 'text-embedding-3-small');
    await user.type(within(embedding).getByTestId('remote-embedding-key'), SECRET);
    await user.click(within(embedding).getByTestId('remote-embedding-save-key'));

    await waitFor(() => expect(setApiKey).toHaveBeenCalledWith('embedding', SECRET));
    expect(saveSettings).toHaveBeenCalledTimes(1);
    expect(vi.mocked(saveSettings).mock.invocationCallOrder[0]!).toBeLessThan(
      vi.mocked(setApiKey).mock.invocationCallOrder[0]!,
    );
    expect(JSON.stringify(vi.mocked(saveSettings).mock.calls)).not.toContain(SECRET);
  });

  it('says plainly when the system has no keychain and the key was not saved', async () => {
    const user = userEvent.setup();
    vi.mocked(setApiKey).mockRejectedValue(
      new IpcError('no_keychain', 'no keychain is available on this system: the key was not saved (no D-Bus)'),
    );
    render(RemoteEndpoints);
    const chat = section('chat');
    await waitFor(() => expect(within(chat).getByTestId('remote-chat-url')).toHaveValue('http://localhost:11434/v1'));
    await user.type(within(chat).getByTestId('remote-chat-key'), SECRET);
    await user.click(within(chat).getByTestId('remote-chat-save-key'));

    expect(await within(chat).findByTestId('remote-chat-no-keychain')).toHaveTextContent(
      'Your system has no keychain; the key was not saved.',
    );
    expect(within(chat).getByTestId('remote-chat-key')).toHaveValue('');
  });

  it('removes a stored key', async () => {
    const user = userEvent.setup();
    vi.mocked(apiKeyStatus).mockResolvedValue(STORED);
    vi.mocked(deleteApiKey).mockResolvedValue(NOT_STORED);
    render(RemoteEndpoints);
    const chat = section('chat');
    await user.click(await within(chat).findByTestId('remote-chat-remove-key'));

    await waitFor(() => expect(deleteApiKey).toHaveBeenCalledWith('chat'));
    expect(await within(chat).findByTestId('remote-chat-key-status')).toHaveTextContent('No key stored');
    expect(within(chat).queryByTestId('remote-chat-remove-key')).not.toBeInTheDocument();
  });

  it('tests the connection with the fields as typed and shows the result in words', async () => {
    const user = userEvent.setup();
    vi.mocked(testRemote).mockResolvedValueOnce({
      ok: false,
      outcome: 'auth_failed',
      message: 'The server refused the key: the remote chat server at http://localhost:11434 refused the API key',
    });
    render(RemoteEndpoints);
    const chat = section('chat');
    await waitFor(() => expect(within(chat).getByTestId('remote-chat-model')).toHaveValue('llama3.1:8b'));
    const model = within(chat).getByTestId('remote-chat-model');
    await user.clear(model);
    await user.type(model, 'qwen3:4b');
    await user.click(within(chat).getByTestId('remote-chat-test'));

    await waitFor(() =>
      expect(testRemote).toHaveBeenCalledWith('chat', { base_url: 'http://localhost:11434/v1', model: 'qwen3:4b' }),
    );
    const result = await within(chat).findByTestId('remote-chat-test-result');
    expect(result).toHaveTextContent('The server refused the key');
    expect(result).toHaveAttribute('data-outcome', 'auth_failed');
    expect(saveSettings).not.toHaveBeenCalled();
  });

  it('goes back to the local model', async () => {
    const user = userEvent.setup();
    render(RemoteEndpoints);
    const chat = section('chat');
    await user.click(await within(chat).findByTestId('remote-chat-local'));

    await waitFor(() => expect(saveSettings).toHaveBeenCalledTimes(1));
    expect(vi.mocked(saveSettings).mock.calls[0]![0].remote?.chat).toBeNull();
    expect(await within(chat).findByTestId('remote-chat-current')).toHaveTextContent('the local model is used');
  });
});
