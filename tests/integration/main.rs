//! Quire's integration tests: one binary, on real parts — a real LanceDB in a temporary folder, llama.cpp with
//! the starter models, real documents from Debian packages and real broken files (scripts/setup.sh --test
//! fetches them), and the real `quire` binary for the command-line and crash tests.

mod support;

mod answer;
mod cli;
mod embedding;
mod eval;
mod ingest;
