//! Shell words as Python's `shlex` handles them: `shlex.split` in POSIX
//! mode (how the wrapper recipe reads `command-line`) and `shlex.quote`
//! (how it writes each argument back, slapos.recipe.librecipe's copy:
//! safe characters are `\w@%+=:,./-`).

/// `shlex.split(text)`.
///
/// # Errors
/// `No closing quotation` or `No escaped character`, as Python raises
/// them.
pub(super) fn split(text: &str) -> Result<Vec<String>, String> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Between,
        Word,
        Quote(char),
        Escape(Return),
    }
    #[derive(Clone, Copy, PartialEq)]
    enum Return {
        Word,
        DoubleQuote,
    }
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut state = State::Between;
    for character in text.chars() {
        state = match state {
            State::Between | State::Word if is_whitespace(character) => {
                if state == State::Word {
                    words.push(std::mem::take(&mut word));
                    quoted = false;
                }
                State::Between
            }
            State::Between | State::Word => match character {
                '\\' => State::Escape(Return::Word),
                '\'' | '"' => {
                    quoted = true;
                    State::Quote(character)
                }
                other => {
                    word.push(other);
                    State::Word
                }
            },
            State::Quote(quote) if character == quote => State::Word,
            State::Quote('"') if character == '\\' => State::Escape(Return::DoubleQuote),
            State::Quote(quote) => {
                word.push(character);
                State::Quote(quote)
            }
            State::Escape(back) => {
                if back == Return::DoubleQuote && character != '"' && character != '\\' {
                    word.push('\\');
                }
                word.push(character);
                match back {
                    Return::Word => State::Word,
                    Return::DoubleQuote => State::Quote('"'),
                }
            }
        };
    }
    match state {
        State::Quote(_) => Err("No closing quotation".to_owned()),
        State::Escape(_) => Err("No escaped character".to_owned()),
        State::Word => {
            words.push(word);
            Ok(words)
        }
        State::Between => {
            if quoted {
                words.push(word);
            }
            Ok(words)
        }
    }
}

/// shlex's whitespace: space, tab, newline, carriage return.
fn is_whitespace(character: char) -> bool {
    matches!(character, ' ' | '\t' | '\n' | '\r')
}

/// `shlex.quote(word)` as librecipe defines it.
pub(super) fn quote(word: &str) -> String {
    if word.is_empty() {
        return "''".to_owned();
    }
    let safe = |c: char| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c);
    if word.chars().all(safe) {
        return word.to_owned();
    }
    format!("'{}'", word.replace('\'', "'\"'\"'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_follows_posix_shlex() {
        assert_eq!(split(r#"a 'b c' "d \" \x" e\ f ''"#).unwrap(), ["a", "b c", r#"d " \x"#, "e f", ""]);
        assert_eq!(split("x'y'z\n  w").unwrap(), ["xyz", "w"]);
        assert_eq!(split("'a").unwrap_err(), "No closing quotation");
        assert_eq!(split("a\\").unwrap_err(), "No escaped character");
    }

    #[test]
    fn quote_keeps_safe_words() {
        assert_eq!(quote("/bin/x"), "/bin/x");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), "'it'\"'\"'s'");
        assert_eq!(quote(""), "''");
    }
}
