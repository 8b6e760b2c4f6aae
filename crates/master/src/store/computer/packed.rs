//! Text columns packed by the SQL engine into one value, for the reads that
//! return a row per slot or per address of a whole compute node.
//!
//! Why: through sqlx's `Any` driver every value of every row is copied by
//! SQLite (`sqlite3_value_dup`), converted, and freed on another thread, and
//! SQLite's allocator takes one global mutex both threads contend for; a
//! 1000-slot `getFullComputerInformation` spent most of its time there, not
//! in its bytes. One packed value per row (or per node) removes that cost.
//!
//! The format: each field is its text with `|` doubled, or `|N` for NULL;
//! fields are joined by `|;`. A `|` in a field's text is always followed by
//! another, so a reader scanning from the start of a field tells a literal
//! (`||`), a separator (`|;`) and NULL (`|N`, alone) apart. Only `concat`,
//! `replace`, `COALESCE` and `CAST` are used: the same in SQLite (3.44 on;
//! sqlx bundles 3.46) and PostgreSQL, and no backslash, whose meaning in
//! string literals depends on PostgreSQL settings. Texts may hold anything,
//! a NUL included (SQLite allows it).

/// A column of a packed row.
#[derive(Debug, Clone, Copy)]
pub(super) enum Column {
    /// A text column, NULL allowed.
    Text(&'static str),
    /// A `NOT NULL` integer column: its digits need no escaping.
    Integer(&'static str),
}

/// The SQL expression packing `columns` of the current row into one text.
pub(super) fn expression(columns: &[Column]) -> String {
    let fields: Vec<String> = columns
        .iter()
        .map(|column| match column {
            // Not guarded by `LIKE '%|%'`, which would spare most copies:
            // SQLite's LIKE stops at a NUL, which SQLite text may hold.
            Column::Text(name) => format!("COALESCE(replace({name}, '|', '||'), '|N')"),
            Column::Integer(name) => format!("CAST({name} AS TEXT)"),
        })
        .collect();
    format!("concat({})", fields.join(", '|;', "))
}

/// The fields of a packed text, `None` for NULL; `None` overall when the
/// text is not in the packed format.
pub(super) fn unpack(packed: &str) -> Option<Vec<Option<String>>> {
    let bytes = packed.as_bytes();
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut null = false;
    let mut run_start = 0;
    let mut index = 0;
    // `|`, `;` and `N` are ASCII: every index where one is found is a
    // character boundary of `packed`.
    while let Some(offset) = bytes[index..].iter().position(|&byte| byte == b'|') {
        let bar = index + offset;
        field.push_str(&packed[run_start..bar]);
        match bytes.get(bar + 1) {
            Some(b'|') if !null => field.push('|'),
            Some(b';') => fields.push(finish_field(&mut field, &mut null)?),
            Some(b'N') if field.is_empty() && !null => null = true,
            _ => return None,
        }
        index = bar + 2;
        run_start = index;
    }
    field.push_str(&packed[run_start..]);
    fields.push(finish_field(&mut field, &mut null)?);
    Some(fields)
}

/// The field read so far, reset for the next one; `None` if text follows a
/// NULL marker.
fn finish_field(field: &mut String, null: &mut bool) -> Option<Option<String>> {
    let text = std::mem::take(field);
    if std::mem::take(null) {
        text.is_empty().then_some(None)
    } else {
        Some(Some(text))
    }
}

#[cfg(test)]
mod tests {
    use super::{expression, unpack, Column};

    fn check(packed: &str, expected: &[Option<&str>]) {
        let expected: Vec<Option<String>> = expected.iter().map(|field| field.map(str::to_owned)).collect();
        assert_eq!(unpack(packed), Some(expected), "{packed}");
    }

    #[test]
    fn fields_read_back_with_bars_and_nulls() {
        check("a|;b", &[Some("a"), Some("b")]);
        check("", &[Some("")]);
        check("|N", &[None]);
        check("|N|;|;x", &[None, Some(""), Some("x")]);
        check("a||;b|;||N|;N", &[Some("a|;b"), Some("|N"), Some("N")]);
        check("é||||;ü|;", &[Some("é||;ü"), Some("")]);
        for corrupted in ["a|", "a|x", "|Nx", "x|N", "|N|N", "a|||", "|N||"] {
            assert_eq!(unpack(corrupted), None, "{corrupted}");
        }
    }

    #[test]
    fn expression_packs_each_column() {
        assert_eq!(
            expression(&[Column::Text("a"), Column::Integer("b")]),
            "concat(COALESCE(replace(a, '|', '||'), '|N'), '|;', CAST(b AS TEXT))"
        );
    }
}
