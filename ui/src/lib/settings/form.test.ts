import { describe, expect, it } from 'vitest';
import type { Settings } from '$lib/ipc';
import { fromDraft, rechunks, sameDraft, serverProblems, toDraft, validate } from '$lib/settings/form';

const SETTINGS: Settings = {
  generation: { temperature: 0.2, top_p: 0.9, max_tokens: 1024, repeat_penalty: 1.1 },
  retrieval: { top_k: 6, chunk_tokens: 256, chunk_overlap: 32 },
  runtime: { gpu_layers: 12, context_size: 4096, threads: 0 },
  models: { chat: '/m/chat.gguf', embedding: null, reranker: null },
  appearance: { theme: 'dark' },
};

describe('settings form', () => {
  it('goes from settings to the form and back unchanged', () => {
    const draft = toDraft(SETTINGS);
    expect(draft.gpu).toBe('custom');
    expect(draft.gpu_layers).toBe('12');
    expect(validate(draft)).toEqual({});
    expect(fromDraft(draft, SETTINGS)).toEqual(SETTINGS);
    expect(fromDraft({ ...draft, gpu: 'all' }, SETTINGS).runtime.gpu_layers).toBe('all');
  });

  it('checks each value against the ranges Rust checks', () => {
    const ok = toDraft(SETTINGS);
    const bad = (field: keyof typeof ok, value: string) => validate({ ...ok, [field]: value });

    expect(bad('temperature', '2.5').temperature).toBe('Enter a number from 0 to 2.');
    expect(bad('temperature', '0')).toEqual({});
    expect(bad('temperature', 'warm').temperature).toBeDefined();
    expect(bad('top_p', '0').top_p).toBe('Enter a number above 0, at most 1.');
    expect(bad('top_p', '1')).toEqual({});
    expect(bad('max_tokens', '15').max_tokens).toBe('Enter a whole number from 16 to 8192.');
    expect(bad('max_tokens', '100.5').max_tokens).toBeDefined();
    expect(bad('repeat_penalty', '0.9').repeat_penalty).toBe('Enter a number from 1 to 2.');
    expect(bad('top_k', '33').top_k).toBe('Enter a whole number from 1 to 32.');
    expect(bad('chunk_tokens', '600').chunk_tokens).toBe('Enter a whole number from 64 to 512.');
    expect(bad('chunk_overlap', '129').chunk_overlap).toBe('At most half the chunk size: 128 tokens.');
    expect(validate({ ...ok, chunk_tokens: '129', chunk_overlap: '64' })).toEqual({});
    expect(bad('context_size', '256').context_size).toBe('Enter a whole number from 512 to 131072.');
    expect(bad('threads', '-1').threads).toBe('Enter a whole number from 0 to 1024.');
    expect(bad('gpu_layers', '1001').gpu_layers).toBe('Enter a whole number from 0 to 1000.');
    expect(bad('context_size', '').context_size).toBeDefined();
    // The layer count matters only for a custom choice.
    expect(validate({ ...ok, gpu: 'none', gpu_layers: 'x' })).toEqual({});
  });

  it('compares drafts by value', () => {
    const a = toDraft(SETTINGS);
    expect(sameDraft(a, { ...a, temperature: '0.20' })).toBe(true);
    expect(sameDraft(a, { ...a, temperature: '0.3' })).toBe(false);
    expect(sameDraft(a, { ...a, temperature: '' })).toBe(false);
    expect(sameDraft({ ...a, gpu: 'all', gpu_layers: '' }, { ...a, gpu: 'all', gpu_layers: '3' })).toBe(true);
  });

  it('knows when saving re-indexes the library', () => {
    const a = toDraft(SETTINGS);
    expect(rechunks(a, SETTINGS)).toBe(false);
    expect(rechunks({ ...a, temperature: '1' }, SETTINGS)).toBe(false);
    expect(rechunks({ ...a, chunk_overlap: '16' }, SETTINGS)).toBe(true);
  });

  it('places Rust’s messages next to the fields they name', () => {
    const { fields, rest } = serverProblems(
      'Temperature must be between 0 and 2 (it is 3.5). Chunk overlap must be at most half the chunk size, 64 tokens (it is 100). The chat model file does not exist: /m/x.gguf.',
    );
    expect(fields).toEqual({
      temperature: 'Temperature must be between 0 and 2 (it is 3.5).',
      chunk_overlap: 'Chunk overlap must be at most half the chunk size, 64 tokens (it is 100).',
    });
    expect(rest).toBe('The chat model file does not exist: /m/x.gguf.');
  });
});
