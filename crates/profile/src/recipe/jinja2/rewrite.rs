//! Source rewriting before minijinja compiles a template, for the Python
//! semantics its compiler has no hook for. minijinja builds list and map
//! literals as immutable values and has no `%` on strings; Jinja2 templates
//! rely on both (`{% set l = [] %}{% do l.append(x) %}`, `'%s:%s' % (a, b)`).
//! The template is parsed with minijinja's own parser (the
//! `unstable_machinery` API, so strings, comments and `{% raw %}` are never
//! touched) and, using the byte spans of the syntax tree, every
//!
//! - list literal `[…]` becomes `__slapos_list__([…])`,
//! - tuple literal `(a, b)` becomes `__slapos_tuple__((a, b))`,
//! - dict literal `{…}` becomes `__slapos_dict__({…})`,
//! - binary `a % b` becomes `__slapos_mod__(a, b)`,
//!
//! calls of globals ([`LIST`], [`TUPLE`], [`DICT`], [`MOD`]) that build
//! Python's mutable containers and do Python's `%`. No newline is added, so
//! error lines stay right (columns move).
//!
//! Limits: assignment targets (`{% for a, b in … %}`, `{% set a, b = … %}`)
//! are left alone, as is an unparenthesised tuple on the right of `set`
//! (`{% set t = 1, 2 %}`, whose span minijinja does not record from its
//! start), which stays an immutable list. A template that does not parse is
//! returned unchanged, so minijinja reports its syntax error itself.

use minijinja::machinery::ast::{BinOpKind, CallArg, Expr, Stmt};
use minijinja::machinery::{parse, Span, WhitespaceConfig};
use minijinja::syntax::SyntaxConfig;

/// The global building a Python list from a minijinja sequence.
pub(crate) const LIST: &str = "__slapos_list__";
/// The global building a Python tuple from a minijinja sequence.
pub(crate) const TUPLE: &str = "__slapos_tuple__";
/// The global building a Python dict from a minijinja map.
pub(crate) const DICT: &str = "__slapos_dict__";
/// The global doing Python's `a % b`.
pub(crate) const MOD: &str = "__slapos_mod__";

/// One text change: at `offset`, drop `delete` bytes and insert `text`.
struct Edit {
    offset: usize,
    /// Order among edits at the same offset: closings (inner first), then
    /// openings (outer first).
    rank: (u8, usize),
    delete: usize,
    text: String,
}

/// The template source with Python's literals and `%` rewritten.
pub(crate) fn rewrite(source: &str, name: &str) -> String {
    let Ok(template) = parse(source, name, SyntaxConfig, WhitespaceConfig::default()) else {
        return source.to_owned();
    };
    let mut walker = Walker { source, edits: Vec::new() };
    walker.stmt(&template);
    if walker.edits.is_empty() {
        return source.to_owned();
    }
    walker.edits.sort_by_key(|edit| (edit.offset, edit.rank));
    let mut result = String::with_capacity(source.len() + walker.edits.len() * 16);
    let mut copied = 0;
    for edit in &walker.edits {
        if copied < edit.offset {
            result.push_str(&source[copied..edit.offset]);
        }
        result.push_str(&edit.text);
        copied = copied.max(edit.offset + edit.delete);
    }
    result.push_str(&source[copied..]);
    result
}

struct Walker<'s> {
    source: &'s str,
    edits: Vec<Edit>,
}

fn start(span: Span) -> usize {
    span.start_offset as usize
}

fn end(span: Span) -> usize {
    span.end_offset as usize
}

impl Walker<'_> {
    fn byte_at(&self, offset: usize) -> Option<u8> {
        self.source.as_bytes().get(offset).copied()
    }

    fn last_byte(&self, span: Span) -> Option<u8> {
        end(span).checked_sub(1).and_then(|offset| self.byte_at(offset))
    }

    /// Wraps the text of `span` into `function(…)`.
    fn wrap(&mut self, span: Span, function: &str) {
        let (from, to) = (start(span), end(span));
        let length = to - from;
        self.edits.push(Edit { offset: from, rank: (1, usize::MAX - length), delete: 0, text: format!("{function}(") });
        self.edits.push(Edit { offset: to, rank: (0, length), delete: 0, text: ")".to_owned() });
    }

    fn stmts(&mut self, stmts: &[Stmt<'_>]) {
        for stmt in stmts {
            self.stmt(stmt);
        }
    }

    fn stmt(&mut self, stmt: &Stmt<'_>) {
        match stmt {
            Stmt::Template(template) => self.stmts(&template.children),
            Stmt::EmitExpr(emit) => self.expr(&emit.expr),
            Stmt::EmitRaw(_) | Stmt::Continue(_) | Stmt::Break(_) => {}
            Stmt::ForLoop(for_loop) => {
                self.expr(&for_loop.iter);
                if let Some(filter) = &for_loop.filter_expr {
                    self.expr(filter);
                }
                self.stmts(&for_loop.body);
                self.stmts(&for_loop.else_body);
            }
            Stmt::IfCond(condition) => {
                self.expr(&condition.expr);
                self.stmts(&condition.true_body);
                self.stmts(&condition.false_body);
            }
            Stmt::WithBlock(with) => {
                for (_, value) in &with.assignments {
                    self.expr(value);
                }
                self.stmts(&with.body);
            }
            Stmt::Set(set) => self.expr(&set.expr),
            Stmt::SetBlock(set) => {
                if let Some(filter) = &set.filter {
                    self.expr(filter);
                }
                self.stmts(&set.body);
            }
            Stmt::AutoEscape(escape) => {
                self.expr(&escape.enabled);
                self.stmts(&escape.body);
            }
            Stmt::FilterBlock(filter) => {
                self.expr(&filter.filter);
                self.stmts(&filter.body);
            }
            Stmt::Block(block) => self.stmts(&block.body),
            Stmt::Import(import) => self.expr(&import.expr),
            Stmt::FromImport(import) => self.expr(&import.expr),
            Stmt::Extends(extends) => self.expr(&extends.name),
            Stmt::Include(include) => self.expr(&include.name),
            Stmt::Macro(definition) => {
                for default in &definition.defaults {
                    self.expr(default);
                }
                self.stmts(&definition.body);
            }
            Stmt::CallBlock(block) => {
                self.expr(&block.call.expr);
                self.args(&block.call.args);
                for default in &block.macro_decl.defaults {
                    self.expr(default);
                }
                self.stmts(&block.macro_decl.body);
            }
            Stmt::Do(statement) => {
                self.expr(&statement.call.expr);
                self.args(&statement.call.args);
            }
        }
    }

    fn args(&mut self, args: &[CallArg<'_>]) {
        for arg in args {
            match arg {
                CallArg::Pos(expr) | CallArg::Kwarg(_, expr) | CallArg::PosSplat(expr) | CallArg::KwargSplat(expr) => {
                    self.expr(expr);
                }
            }
        }
    }

    fn expr(&mut self, expr: &Expr<'_>) {
        match expr {
            Expr::Var(_) | Expr::Const(_) => {}
            Expr::Slice(slice) => {
                self.expr(&slice.expr);
                for bound in [&slice.start, &slice.stop, &slice.step].into_iter().flatten() {
                    self.expr(bound);
                }
            }
            Expr::UnaryOp(unary) => self.expr(&unary.expr),
            Expr::BinOp(binary) => {
                self.expr(&binary.left);
                self.expr(&binary.right);
                if matches!(binary.op, BinOpKind::Rem) {
                    self.modulo(expr.span(), binary.left.span(), binary.right.span());
                }
            }
            Expr::Compare(compare) => {
                self.expr(&compare.expr);
                for operation in &compare.ops {
                    self.expr(&operation.expr);
                }
            }
            Expr::IfExpr(condition) => {
                self.expr(&condition.test_expr);
                self.expr(&condition.true_expr);
                if let Some(otherwise) = &condition.false_expr {
                    self.expr(otherwise);
                }
            }
            Expr::Filter(filter) => {
                if let Some(inner) = &filter.expr {
                    self.expr(inner);
                }
                self.args(&filter.args);
            }
            Expr::Test(test) => {
                self.expr(&test.expr);
                self.args(&test.args);
            }
            Expr::GetAttr(attribute) => self.expr(&attribute.expr),
            Expr::GetItem(item) => {
                self.expr(&item.expr);
                self.expr(&item.subscript_expr);
            }
            Expr::Call(call) => {
                self.expr(&call.expr);
                self.args(&call.args);
            }
            Expr::List(list) => {
                for item in &list.items {
                    self.expr(item);
                }
                self.sequence(expr.span(), list.items.first().map(Expr::span));
            }
            Expr::Map(map) => {
                for (key, value) in map.keys.iter().zip(&map.values) {
                    self.expr(key);
                    self.expr(value);
                }
                if self.byte_at(start(expr.span())) == Some(b'{') && self.last_byte(expr.span()) == Some(b'}') {
                    self.wrap(expr.span(), DICT);
                }
            }
        }
    }

    /// A list or tuple literal, told apart by its opening bracket; skipped
    /// when the span does not enclose the items (see the module limits).
    fn sequence(&mut self, span: Span, first_item: Option<Span>) {
        if first_item.is_some_and(|first| start(first) <= start(span)) {
            return;
        }
        match (self.byte_at(start(span)), self.last_byte(span)) {
            (Some(b'['), Some(b']')) => self.wrap(span, LIST),
            (Some(b'('), Some(b')')) => self.wrap(span, TUPLE),
            _ => {}
        }
    }

    /// `left % right` into `MOD(left, right)`: the one `%` between the
    /// operands (only parentheses and spaces share that gap) becomes `,`.
    fn modulo(&mut self, span: Span, left: Span, right: Span) {
        let gap = end(left)..start(right);
        let Some(text) = self.source.get(gap.clone()) else { return };
        let operators: Vec<usize> = text.match_indices('%').map(|(at, _)| at).collect();
        let [operator] = operators.as_slice() else { return };
        self.wrap(span, MOD);
        self.edits.push(Edit { offset: gap.start + operator, rank: (0, usize::MAX), delete: 1, text: ",".to_owned() });
    }
}
