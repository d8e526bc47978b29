//! Every failure of the store becomes `quire_core::Error::Store` with a message that says what was being done.

use std::fmt::Display;

use quire_core::Error;

/// `Error::Store("<what>: <cause>")`.
pub(crate) fn store_error(what: impl Display, cause: impl Display) -> Error {
    Error::Store(format!("{what}: {cause}"))
}

/// Adds what was being done to a failure from LanceDB, Arrow or the file system.
pub(crate) trait Context<T> {
    fn context(self, what: impl Display) -> quire_core::Result<T>;
    fn with_context<D: Display>(self, what: impl FnOnce() -> D) -> quire_core::Result<T>;
}

impl<T, E: Display> Context<T> for Result<T, E> {
    fn context(self, what: impl Display) -> quire_core::Result<T> {
        self.map_err(|e| store_error(what, e))
    }

    fn with_context<D: Display>(self, what: impl FnOnce() -> D) -> quire_core::Result<T> {
        self.map_err(|e| store_error(what(), e))
    }
}
