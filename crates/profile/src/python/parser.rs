//! A recursive-descent parser for Python 3 expressions (the `eval` grammar,
//! minus lambdas, starred items, walrus and f-strings). Operator chains and
//! trailers are kept flat so that evaluation is iterative along them;
//! nesting (brackets, unary operators, `**`, conditionals) is counted and
//! capped at [`MAX_NESTING_DEPTH`] so deep input is an error, not a crash.

use super::lexer::Token;
use super::value::PyValue;
use super::{PythonError, MAX_NESTING_DEPTH};

/// An expression tree.
#[derive(Debug, Clone)]
pub(crate) enum Expr {
    Constant(PyValue),
    Name(String),
    /// An atom followed by `.name`, `(...)` and `[...]` trailers.
    Primary(Box<Expr>, Vec<Trailer>),
    Unary(UnaryOp, Box<Expr>),
    /// `first op operand op operand ...`, left-associative.
    Binary(Box<Expr>, Vec<(BinaryOp, Expr)>),
    Power(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    /// `a and b and c` (`true`) or `a or b or c` (`false`).
    Logical(bool, Vec<Expr>),
    Compare(Box<Expr>, Vec<(CompareOp, Expr)>),
    IfElse {
        test: Box<Expr>,
        body: Box<Expr>,
        orelse: Box<Expr>,
    },
    List(Vec<Expr>),
    Tuple(Vec<Expr>),
    Set(Vec<Expr>),
    Dict(Vec<(Expr, Expr)>),
    Comprehension(Box<Comprehension>),
    /// `start:stop:step`, only inside a subscript.
    Slice(Option<Box<Expr>>, Option<Box<Expr>>, Option<Box<Expr>>),
}

/// What a comprehension builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ComprehensionKind {
    List,
    Set,
    Generator,
    Dict,
}

/// `[element for target in iterable if condition ...]`.
#[derive(Debug, Clone)]
pub(crate) struct Comprehension {
    pub(crate) kind: ComprehensionKind,
    pub(crate) element: Expr,
    /// The value of a dict comprehension (`element` is then the key).
    pub(crate) value: Option<Expr>,
    pub(crate) clauses: Vec<ForClause>,
}

/// One `for target in iterable if ...` clause.
#[derive(Debug, Clone)]
pub(crate) struct ForClause {
    pub(crate) target: Target,
    pub(crate) iterable: Expr,
    pub(crate) conditions: Vec<Expr>,
}

/// A loop variable: a name or a tuple of targets.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    Name(String),
    Tuple(Vec<Target>),
}

/// A postfix operation on a primary.
#[derive(Debug, Clone)]
pub(crate) enum Trailer {
    Attribute(String),
    Call(Vec<Expr>, Vec<(String, Expr)>),
    Subscript(Expr),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnaryOp {
    Plus,
    Minus,
    Invert,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Mod,
    MatMul,
    BitOr,
    BitXor,
    BitAnd,
    LeftShift,
    RightShift,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CompareOp {
    Lt,
    Le,
    Eq,
    Ne,
    Gt,
    Ge,
    In,
    NotIn,
    Is,
    IsNot,
}

impl CompareOp {
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Eq => "==",
            CompareOp::Ne => "!=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
            CompareOp::In => "in",
            CompareOp::NotIn => "not in",
            CompareOp::Is => "is",
            CompareOp::IsNot => "is not",
        }
    }
}

/// Parses a whole `eval` input: an expression list (a tuple when it has a
/// top-level comma).
///
/// # Errors
/// A `SyntaxError`, an unsupported construct, or nesting beyond the cap.
pub(crate) fn parse_expression_list(tokens: &[Token]) -> Result<Expr, PythonError> {
    let mut parser = Parser {
        tokens,
        position: 0,
        depth: 0,
    };
    if tokens.is_empty() {
        return Err(syntax_error("invalid syntax"));
    }
    let first = parser.expression()?;
    let expr = if parser.peek_op(",") {
        let mut items = vec![first];
        while parser.eat_op(",") {
            if parser.at_end() {
                break;
            }
            items.push(parser.expression()?);
        }
        Expr::Tuple(items)
    } else {
        first
    };
    if !parser.at_end() {
        return Err(syntax_error("invalid syntax"));
    }
    Ok(expr)
}

fn syntax_error(message: &str) -> PythonError {
    PythonError::new(format!("SyntaxError: {message}"))
}

struct Parser<'t> {
    tokens: &'t [Token],
    position: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.position)
    }

    fn at_end(&self) -> bool {
        self.position >= self.tokens.len()
    }

    fn peek_op(&self, op: &str) -> bool {
        matches!(self.peek(), Some(Token::Op(o)) if *o == op)
    }

    fn peek_keyword(&self, keyword: &str) -> bool {
        matches!(self.peek(), Some(Token::Keyword(k)) if *k == keyword)
    }

    fn eat_op(&mut self, op: &str) -> bool {
        let found = self.peek_op(op);
        if found {
            self.position += 1;
        }
        found
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        let found = self.peek_keyword(keyword);
        if found {
            self.position += 1;
        }
        found
    }

    fn expect_op(&mut self, op: &str) -> Result<(), PythonError> {
        if self.eat_op(op) {
            Ok(())
        } else {
            Err(syntax_error(&format!("expected '{op}'")))
        }
    }

    /// Runs `parse` one nesting level deeper, failing past the cap.
    fn nested<T>(
        &mut self,
        parse: impl FnOnce(&mut Self) -> Result<T, PythonError>,
    ) -> Result<T, PythonError> {
        if self.depth >= MAX_NESTING_DEPTH {
            return Err(PythonError::new(format!(
                "expression nests deeper than {MAX_NESTING_DEPTH} levels"
            )));
        }
        self.depth += 1;
        let result = parse(self);
        self.depth -= 1;
        result
    }

    /// `expression: disjunction ['if' disjunction 'else' expression]`.
    fn expression(&mut self) -> Result<Expr, PythonError> {
        self.nested(|parser| {
            if parser.peek_keyword("lambda") {
                return Err(PythonError::new("lambda is not supported"));
            }
            if parser.peek_op("*") || parser.peek_op("**") {
                return Err(PythonError::new("starred expressions are not supported"));
            }
            let body = parser.disjunction()?;
            if parser.peek_op(":=") {
                return Err(PythonError::new("assignment expressions are not supported"));
            }
            if !parser.eat_keyword("if") {
                return Ok(body);
            }
            let test = parser.disjunction()?;
            if !parser.eat_keyword("else") {
                return Err(syntax_error("expected 'else' after 'if' expression"));
            }
            let orelse = parser.expression()?;
            Ok(Expr::IfElse {
                test: Box::new(test),
                body: Box::new(body),
                orelse: Box::new(orelse),
            })
        })
    }

    fn disjunction(&mut self) -> Result<Expr, PythonError> {
        self.logical(false)
    }

    fn logical(&mut self, is_and: bool) -> Result<Expr, PythonError> {
        let keyword = if is_and { "and" } else { "or" };
        let operand = |parser: &mut Self| {
            if is_and {
                parser.inversion()
            } else {
                parser.logical(true)
            }
        };
        let first = operand(self)?;
        if !self.peek_keyword(keyword) {
            return Ok(first);
        }
        let mut operands = vec![first];
        while self.eat_keyword(keyword) {
            operands.push(operand(self)?);
        }
        Ok(Expr::Logical(is_and, operands))
    }

    fn inversion(&mut self) -> Result<Expr, PythonError> {
        if self.eat_keyword("not") {
            return self.nested(|parser| Ok(Expr::Not(Box::new(parser.inversion()?))));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, PythonError> {
        let first = self.binary(0)?;
        let mut rest = Vec::new();
        while let Some(op) = self.compare_op() {
            rest.push((op, self.binary(0)?));
        }
        if rest.is_empty() {
            Ok(first)
        } else {
            Ok(Expr::Compare(Box::new(first), rest))
        }
    }

    fn compare_op(&mut self) -> Option<CompareOp> {
        let op = match self.peek()? {
            Token::Op("<") => CompareOp::Lt,
            Token::Op("<=") => CompareOp::Le,
            Token::Op("==") => CompareOp::Eq,
            Token::Op("!=") => CompareOp::Ne,
            Token::Op(">") => CompareOp::Gt,
            Token::Op(">=") => CompareOp::Ge,
            Token::Keyword("in") => CompareOp::In,
            Token::Keyword("not")
                if matches!(
                    self.tokens.get(self.position + 1),
                    Some(Token::Keyword("in"))
                ) =>
            {
                self.position += 1;
                CompareOp::NotIn
            }
            Token::Keyword("is") => {
                if matches!(
                    self.tokens.get(self.position + 1),
                    Some(Token::Keyword("not"))
                ) {
                    self.position += 1;
                    CompareOp::IsNot
                } else {
                    CompareOp::Is
                }
            }
            _ => return None,
        };
        self.position += 1;
        Some(op)
    }

    /// The binary operator levels, loosest first: `|`, `^`, `&`, shifts,
    /// `+ -`, `* / // % @`.
    fn binary(&mut self, level: usize) -> Result<Expr, PythonError> {
        const LEVELS: [&[(&str, BinaryOp)]; 6] = [
            &[("|", BinaryOp::BitOr)],
            &[("^", BinaryOp::BitXor)],
            &[("&", BinaryOp::BitAnd)],
            &[("<<", BinaryOp::LeftShift), (">>", BinaryOp::RightShift)],
            &[("+", BinaryOp::Add), ("-", BinaryOp::Sub)],
            &[
                ("*", BinaryOp::Mul),
                ("/", BinaryOp::Div),
                ("//", BinaryOp::FloorDiv),
                ("%", BinaryOp::Mod),
                ("@", BinaryOp::MatMul),
            ],
        ];
        let Some(operators) = LEVELS.get(level) else {
            return self.factor();
        };
        let first = self.binary(level + 1)?;
        let mut rest = Vec::new();
        loop {
            let Some((_, op)) = operators.iter().find(|(symbol, _)| self.peek_op(symbol)) else {
                break;
            };
            self.position += 1;
            rest.push((*op, self.binary(level + 1)?));
        }
        if rest.is_empty() {
            Ok(first)
        } else {
            Ok(Expr::Binary(Box::new(first), rest))
        }
    }

    fn factor(&mut self) -> Result<Expr, PythonError> {
        let op = match self.peek() {
            Some(Token::Op("+")) => UnaryOp::Plus,
            Some(Token::Op("-")) => UnaryOp::Minus,
            Some(Token::Op("~")) => UnaryOp::Invert,
            _ => return self.power(),
        };
        self.position += 1;
        if op == UnaryOp::Minus && self.is_lone_int(1 << 63) {
            // `-9223372036854775808` is i64::MIN, written as minus 2**63.
            self.position += 1;
            return Ok(Expr::Constant(PyValue::Int(i64::MIN)));
        }
        self.nested(|parser| Ok(Expr::Unary(op, Box::new(parser.factor()?))))
    }

    /// Whether the next token is the integer `value` with no trailer or
    /// `**` binding tighter than a unary minus before it.
    fn is_lone_int(&self, value: u64) -> bool {
        let next = self.tokens.get(self.position + 1);
        matches!(self.peek(), Some(Token::Int(found)) if *found == value)
            && !matches!(next, Some(Token::Op("**" | "." | "(" | "[")))
    }

    fn power(&mut self) -> Result<Expr, PythonError> {
        let base = self.primary()?;
        if !self.eat_op("**") {
            return Ok(base);
        }
        self.nested(|parser| Ok(Expr::Power(Box::new(base), Box::new(parser.factor()?))))
    }

    fn primary(&mut self) -> Result<Expr, PythonError> {
        let atom = self.atom()?;
        let mut trailers = Vec::new();
        loop {
            if self.eat_op(".") {
                match self.peek() {
                    Some(Token::Name(name)) => {
                        trailers.push(Trailer::Attribute(name.clone()));
                        self.position += 1;
                    }
                    _ => return Err(syntax_error("invalid syntax")),
                }
            } else if self.eat_op("(") {
                let (args, kwargs) = self.nested(Self::call_arguments)?;
                trailers.push(Trailer::Call(args, kwargs));
            } else if self.eat_op("[") {
                let index = self.nested(Self::subscript)?;
                trailers.push(Trailer::Subscript(index));
            } else {
                break;
            }
        }
        if trailers.is_empty() {
            Ok(atom)
        } else {
            Ok(Expr::Primary(Box::new(atom), trailers))
        }
    }

    /// After `(`: arguments up to and including `)`.
    fn call_arguments(&mut self) -> Result<(Vec<Expr>, Vec<(String, Expr)>), PythonError> {
        let mut args = Vec::new();
        let mut kwargs = Vec::new();
        while !self.eat_op(")") {
            if let (Some(Token::Name(name)), Some(Token::Op("="))) =
                (self.peek(), self.tokens.get(self.position + 1))
            {
                let name = name.clone();
                self.position += 2;
                kwargs.push((name, self.expression()?));
            } else {
                if !kwargs.is_empty() {
                    return Err(syntax_error("positional argument follows keyword argument"));
                }
                let argument = self.expression()?;
                if self.peek_keyword("for") {
                    let generator =
                        self.comprehension(ComprehensionKind::Generator, argument, None)?;
                    args.push(generator);
                } else {
                    args.push(argument);
                }
            }
            if !self.eat_op(",") {
                self.expect_op(")")?;
                break;
            }
        }
        Ok((args, kwargs))
    }

    /// After `[`: a subscript up to and including `]`.
    fn subscript(&mut self) -> Result<Expr, PythonError> {
        let mut items = Vec::new();
        let mut has_comma = false;
        loop {
            items.push(self.slice_item()?);
            if !self.eat_op(",") {
                break;
            }
            has_comma = true;
            if self.peek_op("]") {
                break;
            }
        }
        self.expect_op("]")?;
        match items.pop() {
            Some(item) if !has_comma => Ok(item),
            Some(item) => {
                items.push(item);
                Ok(Expr::Tuple(items))
            }
            None => Err(syntax_error("invalid syntax")),
        }
    }

    fn slice_item(&mut self) -> Result<Expr, PythonError> {
        let start = if self.peek_op(":") {
            None
        } else {
            Some(self.expression()?)
        };
        if !self.eat_op(":") {
            return start.ok_or_else(|| syntax_error("invalid syntax"));
        }
        let bound = |parser: &mut Self| -> Result<Option<Box<Expr>>, PythonError> {
            if parser.peek_op(":") || parser.peek_op("]") || parser.peek_op(",") {
                Ok(None)
            } else {
                Ok(Some(Box::new(parser.expression()?)))
            }
        };
        let stop = bound(self)?;
        let step = if self.eat_op(":") { bound(self)? } else { None };
        Ok(Expr::Slice(start.map(Box::new), stop, step))
    }

    fn atom(&mut self) -> Result<Expr, PythonError> {
        let token = self
            .peek()
            .cloned()
            .ok_or_else(|| syntax_error("invalid syntax"))?;
        self.position += 1;
        match token {
            Token::Name(name) => Ok(Expr::Name(name)),
            Token::Keyword("None") => Ok(Expr::Constant(PyValue::None)),
            Token::Keyword("True") => Ok(Expr::Constant(PyValue::Bool(true))),
            Token::Keyword("False") => Ok(Expr::Constant(PyValue::Bool(false))),
            Token::Int(value) => i64::try_from(value)
                .map(|value| Expr::Constant(PyValue::Int(value)))
                .map_err(|_| {
                    PythonError::new("integer literal outside the 64-bit range is not supported")
                }),
            Token::Float(value) => Ok(Expr::Constant(PyValue::Float(value))),
            Token::Imaginary(value) => Ok(Expr::Constant(PyValue::Complex(0.0, value))),
            Token::Str(text) => self.concatenate_strings(text),
            Token::Bytes(bytes) => self.concatenate_bytes(bytes),
            Token::Op("(") => self.nested(Self::parenthesized),
            Token::Op("[") => self.nested(Self::bracketed),
            Token::Op("{") => self.nested(Self::braced),
            Token::Op("...") => Err(PythonError::new("Ellipsis is not supported")),
            Token::Keyword(keyword) => {
                Err(syntax_error(&format!("invalid syntax near '{keyword}'")))
            }
            Token::Op(op) => Err(syntax_error(&format!("invalid syntax near '{op}'"))),
            Token::Newline => Err(syntax_error("invalid syntax (line break)")),
        }
    }

    /// Adjacent string literals concatenate; mixing with bytes is an error.
    fn concatenate_strings(&mut self, mut text: String) -> Result<Expr, PythonError> {
        loop {
            match self.peek() {
                Some(Token::Str(more)) => text.push_str(more),
                Some(Token::Bytes(_)) => {
                    return Err(syntax_error("cannot mix bytes and nonbytes literals"))
                }
                _ => return Ok(Expr::Constant(PyValue::Str(text))),
            }
            self.position += 1;
        }
    }

    fn concatenate_bytes(&mut self, mut bytes: Vec<u8>) -> Result<Expr, PythonError> {
        loop {
            match self.peek() {
                Some(Token::Bytes(more)) => bytes.extend_from_slice(more),
                Some(Token::Str(_)) => {
                    return Err(syntax_error("cannot mix bytes and nonbytes literals"))
                }
                _ => return Ok(Expr::Constant(PyValue::Bytes(bytes))),
            }
            self.position += 1;
        }
    }

    /// After `(`: a group, a tuple or a generator expression.
    fn parenthesized(&mut self) -> Result<Expr, PythonError> {
        if self.eat_op(")") {
            return Ok(Expr::Tuple(Vec::new()));
        }
        let first = self.expression()?;
        if self.peek_keyword("for") {
            let generator = self.comprehension(ComprehensionKind::Generator, first, None)?;
            self.expect_op(")")?;
            return Ok(generator);
        }
        if self.eat_op(")") {
            return Ok(first);
        }
        let items = self.items_after_first(first, ")")?;
        Ok(Expr::Tuple(items))
    }

    /// After `[`: a list display or a list comprehension.
    fn bracketed(&mut self) -> Result<Expr, PythonError> {
        if self.eat_op("]") {
            return Ok(Expr::List(Vec::new()));
        }
        let first = self.expression()?;
        if self.peek_keyword("for") {
            let comprehension = self.comprehension(ComprehensionKind::List, first, None)?;
            self.expect_op("]")?;
            return Ok(comprehension);
        }
        if self.eat_op("]") {
            return Ok(Expr::List(vec![first]));
        }
        Ok(Expr::List(self.items_after_first(first, "]")?))
    }

    /// After `{`: a dict or set display or comprehension.
    fn braced(&mut self) -> Result<Expr, PythonError> {
        if self.eat_op("}") {
            return Ok(Expr::Dict(Vec::new()));
        }
        if self.peek_op("**") {
            return Err(PythonError::new("dict unpacking is not supported"));
        }
        let first = self.expression()?;
        if !self.eat_op(":") {
            if self.peek_keyword("for") {
                let comprehension = self.comprehension(ComprehensionKind::Set, first, None)?;
                self.expect_op("}")?;
                return Ok(comprehension);
            }
            if self.eat_op("}") {
                return Ok(Expr::Set(vec![first]));
            }
            return Ok(Expr::Set(self.items_after_first(first, "}")?));
        }
        let first_value = self.expression()?;
        if self.peek_keyword("for") {
            let comprehension =
                self.comprehension(ComprehensionKind::Dict, first, Some(first_value))?;
            self.expect_op("}")?;
            return Ok(comprehension);
        }
        let mut pairs = vec![(first, first_value)];
        while self.eat_op(",") {
            if self.peek_op("}") {
                break;
            }
            let key = self.expression()?;
            self.expect_op(":")?;
            pairs.push((key, self.expression()?));
        }
        self.expect_op("}")?;
        Ok(Expr::Dict(pairs))
    }

    /// `, item, item [,] close` after a first item.
    fn items_after_first(&mut self, first: Expr, close: &str) -> Result<Vec<Expr>, PythonError> {
        let mut items = vec![first];
        while self.eat_op(",") {
            if self.peek_op(close) {
                break;
            }
            items.push(self.expression()?);
        }
        self.expect_op(close)?;
        Ok(items)
    }

    /// `for ... in ... if ...` clauses after the element.
    fn comprehension(
        &mut self,
        kind: ComprehensionKind,
        element: Expr,
        value: Option<Expr>,
    ) -> Result<Expr, PythonError> {
        let mut clauses = Vec::new();
        while self.eat_keyword("for") {
            if clauses.len() >= MAX_NESTING_DEPTH {
                return Err(PythonError::new(format!(
                    "comprehension has more than {MAX_NESTING_DEPTH} 'for' clauses"
                )));
            }
            let target = self.target_list()?;
            if !self.eat_keyword("in") {
                return Err(syntax_error("expected 'in' in comprehension"));
            }
            let iterable = self.disjunction()?;
            let mut conditions = Vec::new();
            while self.eat_keyword("if") {
                conditions.push(self.disjunction()?);
            }
            clauses.push(ForClause {
                target,
                iterable,
                conditions,
            });
        }
        Ok(Expr::Comprehension(Box::new(Comprehension {
            kind,
            element,
            value,
            clauses,
        })))
    }

    /// `a` or `a, b` or `(a, b)` as a loop target.
    fn target_list(&mut self) -> Result<Target, PythonError> {
        let first = self.target()?;
        if !self.peek_op(",") {
            return Ok(first);
        }
        let mut targets = vec![first];
        while self.eat_op(",") {
            if self.peek_keyword("in") {
                break;
            }
            targets.push(self.target()?);
        }
        Ok(Target::Tuple(targets))
    }

    fn target(&mut self) -> Result<Target, PythonError> {
        match self.peek().cloned() {
            Some(Token::Name(name)) => {
                self.position += 1;
                Ok(Target::Name(name))
            }
            Some(Token::Op(open @ ("(" | "["))) => {
                self.position += 1;
                let close = if open == "(" { ")" } else { "]" };
                self.nested(|parser| {
                    let mut targets = Vec::new();
                    while !parser.eat_op(close) {
                        targets.push(parser.target()?);
                        if !parser.eat_op(",") {
                            parser.expect_op(close)?;
                            break;
                        }
                    }
                    Ok(Target::Tuple(targets))
                })
            }
            _ => Err(syntax_error("cannot assign to expression in comprehension")),
        }
    }
}
