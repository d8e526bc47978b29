// DOM matchers (toBeInTheDocument, toHaveAttribute, …) for every test file.
import '@testing-library/jest-dom/vitest';
