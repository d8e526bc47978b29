/** Words and numbers the models screen shows. */
import type { ModelRole } from '../ipc';

/** "135 M", "1.5 B", "7 B", "22 K" parameters. */
export function formatParameters(count: number): string {
  if (!Number.isFinite(count) || count <= 0) return '—';
  const steps: [number, string][] = [
    [1e12, 'T'],
    [1e9, 'B'],
    [1e6, 'M'],
    [1e3, 'K'],
  ];
  for (const [size, unit] of steps) {
    if (count >= size * 0.9995) {
      const value = count / size;
      const text = value < 10 ? value.toFixed(1).replace(/\.0$/, '') : Math.round(value).toString();
      return `${text} ${unit}`;
    }
  }
  return String(Math.round(count));
}

const numberFormat = new Intl.NumberFormat();

/** "8,192 tokens", or "—" when the file does not say. */
export function formatContext(tokens: number | null): string {
  return tokens === null ? '—' : `${numberFormat.format(tokens)} tokens`;
}

/** What can be done with an installed model. */
export type ModelAction = 'default' | 'load' | 'unload' | 'unregister';

export const ROLES: readonly ModelRole[] = ['chat', 'embedding', 'reranker'];

/** Each role's heading, and what a model of that role does, in one sentence. */
export const ROLE_TEXT: Record<ModelRole, { title: string; about: string; none: string }> = {
  chat: {
    title: 'Chat',
    about: 'Writes the answers, from the passages the search found.',
    none: 'No chat model is installed: questions cannot be answered.',
  },
  embedding: {
    title: 'Embedding',
    about: 'Turns documents and questions into vectors, so the search finds passages by meaning.',
    none: 'No embedding model is installed: documents cannot be indexed.',
  },
  reranker: {
    title: 'Reranker',
    about: 'Orders the passages found by how well they answer the question. Optional.',
    none: 'No reranker is installed; answers use the search’s own order.',
  },
};
