// DOM matchers (toBeInTheDocument, toHaveAttribute, …) for every test file.
import '@testing-library/jest-dom/vitest';

// jsdom lays nothing out, so it has no ResizeObserver; sizes bound with `bind:clientWidth` stay 0 in tests.
if (!('ResizeObserver' in globalThis)) {
  globalThis.ResizeObserver = class {
    observe(): void {}
    unobserve(): void {}
    disconnect(): void {}
  };
}
