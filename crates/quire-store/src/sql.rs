//! SQL predicates for LanceDB filters. Every value that comes from a user (paths, ids) goes through [`lit`].

use std::collections::HashSet;

use quire_core::SearchFilter;

use crate::schema::col;

/// A SQL string literal. LanceDB's SQL dialect has no backslash escapes: a quote is escaped by doubling it.
pub(crate) fn lit(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if c == '\'' {
            out.push('\'');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// `column = 'value'`.
pub(crate) fn eq(column: &str, value: &str) -> String {
    format!("{column} = {}", lit(value))
}

/// `column IN ('a', 'b')`; callers handle the empty list (SQL has no empty IN list).
pub(crate) fn in_list<'a>(column: &str, values: impl IntoIterator<Item = &'a str>) -> String {
    let items: Vec<String> = values.into_iter().map(lit).collect();
    format!("{column} IN ({})", items.join(", "))
}

/// The predicate of a search: never a document that is not indexed, and the user's filter.
/// `None` when nothing is filtered. The caller returns no hits for an empty `doc_ids` list.
pub(crate) fn search_predicate(hidden: &HashSet<String>, filter: &SearchFilter) -> Option<String> {
    let mut parts = Vec::new();
    if !hidden.is_empty() {
        let mut ids: Vec<&str> = hidden.iter().map(String::as_str).collect();
        ids.sort_unstable();
        parts.push(format!("NOT ({})", in_list(col::DOC_ID, ids)));
    }
    if let Some(prefix) = filter.path_prefix.as_deref().filter(|p| !p.is_empty()) {
        parts.push(format!("starts_with({}, {})", col::PATH, lit(prefix)));
    }
    if let Some(ids) = &filter.doc_ids {
        parts.push(in_list(col::DOC_ID, ids.iter().map(String::as_str)));
    }
    match parts.len() {
        0 => None,
        1 => parts.pop(),
        _ => Some(parts.into_iter().map(|p| format!("({p})")).collect::<Vec<_>>().join(" AND ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_double_quotes() {
        assert_eq!(lit("a'b"), "'a''b'");
        assert_eq!(lit("''"), "''''''");
        assert_eq!(lit(r"C:\x"), r"'C:\x'");
        assert_eq!(eq("path", "it's"), "path = 'it''s'");
    }

    #[test]
    fn predicate_combines_parts() {
        let hidden: HashSet<String> = ["b".to_string(), "a".to_string()].into();
        let filter = SearchFilter { path_prefix: Some("/x'y/".into()), doc_ids: Some(vec!["c".into()]) };
        assert_eq!(
            search_predicate(&hidden, &filter).as_deref(),
            Some("(NOT (doc_id IN ('a', 'b'))) AND (starts_with(path, '/x''y/')) AND (doc_id IN ('c'))")
        );
        assert_eq!(search_predicate(&HashSet::new(), &SearchFilter::default()), None);
    }
}
