import { describe, expect, it } from 'vitest';
import {
  baseName,
  citationLabel,
  exportFileName,
  pageLabel,
  rerankLabel,
  sameScope,
  scopeLabel,
  titleFromQuestion,
} from '$lib/chat/format';
import { describeAnswerError } from '$lib/chat/errors';

describe('format', () => {
  it('names files from paths with either separator', () => {
    expect(baseName('/home/ada/docs/report.pdf')).toBe('report.pdf');
    expect(baseName('C:\\Users\\ada\\notes.md')).toBe('notes.md');
    expect(baseName('/home/ada/docs/')).toBe('docs');
  });

  it('labels pages', () => {
    expect(pageLabel(null, null)).toBe('');
    expect(pageLabel(4, 4)).toBe('p. 4');
    expect(pageLabel(4, null)).toBe('p. 4');
    expect(pageLabel(4, 6)).toBe('pp. 4–6');
  });

  it('labels citations for screen readers', () => {
    const base = { n: 2, doc_id: 'd', path: '/x/report.pdf', heading_path: [], snippet: '' };
    expect(citationLabel({ ...base, title: null, page_start: 3, page_end: 3 })).toBe('Source 2: report.pdf, p. 3');
    expect(citationLabel({ ...base, title: 'Annual report', page_start: null, page_end: null, heading_path: ['A', 'B'] })).toBe(
      'Source 2: Annual report, A › B',
    );
  });

  it('labels scopes', () => {
    expect(scopeLabel({ kind: 'library' })).toBe('Whole library');
    expect(scopeLabel({ kind: 'collection', name: 'Work' })).toBe('Collection: Work');
    expect(scopeLabel({ kind: 'path', path: '/docs/report.pdf' })).toBe('Document: report.pdf');
    expect(sameScope({ kind: 'collection', name: 'A' }, { kind: 'collection', name: 'A' })).toBe(true);
    expect(sameScope({ kind: 'collection', name: 'A' }, { kind: 'path', path: 'A' })).toBe(false);
  });

  it('labels the reranker status', () => {
    expect(rerankLabel({ status: 'ran', model: 'bge-reranker' })).toBe('Reranked by bge-reranker');
    expect(rerankLabel({ status: 'skipped', reason: 'no reranker' })).toBe('Not reranked: no reranker');
  });

  it('titles a conversation after its first question', () => {
    expect(titleFromQuestion('  What is X?\nMore detail')).toBe('What is X?');
    const long = titleFromQuestion('word '.repeat(40));
    expect(long.length).toBeLessThanOrEqual(81);
    expect(long.endsWith('…')).toBe(true);
  });

  it('makes safe export file names', () => {
    expect(exportFileName('Q3: "plans" / budget?', 'markdown')).toBe('Q3 plans budget.md');
    expect(exportFileName('   ', 'json')).toBe('Conversation.json');
  });
});

describe('describeAnswerError', () => {
  it('sends a missing or failing model to the Models screen', () => {
    expect(describeAnswerError({ kind: 'model_missing', message: 'no chat model' }).actions[0]).toBe('models');
    expect(describeAnswerError({ kind: 'model', message: 'bad file' }).actions).toEqual(['models', 'retry']);
  });

  it('offers Retry when the model worker stopped', () => {
    for (const kind of ['worker', 'worker_crashed', 'worker_timeout']) {
      const problem = describeAnswerError({ kind, message: 'boom' });
      expect(problem.title).toBe('The model stopped unexpectedly');
      expect(problem.actions).toEqual(['retry']);
    }
  });

  it('ends a crash message as a sentence before saying the question was kept', () => {
    const crash = (message: string) => describeAnswerError({ kind: 'worker_crashed', message }).detail;
    expect(crash('it was killed by signal 9')).toBe('it was killed by signal 9. Your question was not lost.');
    expect(crash('It stopped.')).toBe('It stopped. Your question was not lost.');
  });

  it('shows any other error with its message and Retry', () => {
    expect(describeAnswerError({ kind: 'io', message: 'disk full' })).toEqual({
      title: 'The answer failed',
      detail: 'disk full',
      actions: ['retry'],
    });
  });
});
