//! The layout passes over a token stream: indentation, spacing between tokens, and alignment of
//! `=` signs and trailing comments in runs of consecutive lines.
//!
//! Only the spaces before each token change; the tokens themselves are written back unchanged,
//! which is what makes the output byte-identical to HCL's canonical format.

use super::lexer::{Kind, Token};
use unicode_segmentation::UnicodeSegmentation;

/// A token with the number of spaces to print before it.
pub struct Cell<'a> {
    pub kind: Kind,
    pub text: &'a str,
    pub spaces: usize,
}

/// One line split into up to three cells whose starts are aligned with neighbouring lines:
/// `lead` (everything before an assignment), `assign` (from `=` on) and a trailing `comment`.
/// Ranges are indices into the token list.
#[derive(Clone, Default)]
struct Line {
    lead: (usize, usize),
    assign: Option<(usize, usize)>,
    comment: Option<(usize, usize)>,
}

/// Lays out `tokens` of `src` and returns the formatted text.
pub fn layout(src: &str, tokens: &[Token]) -> String {
    let mut cells: Vec<Cell> = Vec::with_capacity(tokens.len());
    let mut last = 0;
    for t in tokens {
        cells.push(Cell { kind: t.kind, text: &src[t.start..t.end], spaces: t.start - last });
        last = t.end;
    }
    // Whitespace after the last token has no token to hang on; it is kept as spaces, as HCL's
    // end-of-file token keeps it.
    let trailing = src.len() - last;

    let lines = split_lines(&cells);
    indent(&mut cells, &lines);
    space(&mut cells, &lines);
    align(&mut cells, &lines);

    let mut out = String::with_capacity(src.len() + 64);
    for c in &cells {
        out.extend(std::iter::repeat_n(' ', c.spaces));
        out.push_str(c.text);
    }
    out.extend(std::iter::repeat_n(' ', trailing));
    out
}

fn ends_line(c: &Cell) -> bool {
    c.kind == Kind::Newline || (c.kind == Kind::Comment && c.text.ends_with('\n'))
}

fn bracket_change(k: Kind) -> i32 {
    match k {
        Kind::OBrace | Kind::OBrack | Kind::OParen | Kind::TemplateControl | Kind::TemplateInterp => 1,
        Kind::CBrace | Kind::CBrack | Kind::CParen | Kind::TemplateSeqEnd => -1,
        _ => 0,
    }
}

/// Net bracket change of a token range, not looking inside a heredoc (its content belongs to
/// the line that opens it).
fn net_brackets(cells: &[Cell], from: usize, to: usize) -> i32 {
    let mut n = 0;
    for c in &cells[from..to] {
        n += bracket_change(c.kind);
        if c.kind == Kind::OHeredoc {
            break;
        }
    }
    n
}

fn split_lines(cells: &[Cell]) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut start = 0;
    for (i, c) in cells.iter().enumerate() {
        if ends_line(c) {
            lines.push(Line { lead: (start, i + 1), ..Line::default() });
            start = i + 1;
        }
    }
    lines.push(Line { lead: (start, cells.len()), ..Line::default() });

    for line in &mut lines {
        let (s, e) = line.lead;
        if e - s > 1 && cells[e - 1].kind == Kind::Comment {
            line.comment = Some((e - 1, e));
            line.lead = (s, e - 1);
        }
        let (s, e) = line.lead;
        if let Some(eq) = (s + 1..e).find(|&i| cells[i].kind == Kind::Equal) {
            // Only a right-hand side that is complete on this line joins an alignment run; one
            // that opens a bracket continues below and breaks the run.
            if net_brackets(cells, eq, e) == 0 {
                line.assign = Some((eq, e));
                line.lead = (s, eq);
            }
        }
    }
    lines
}

fn indent(cells: &mut [Cell], lines: &[Line]) {
    // Each entry is the number of brackets a line opened; a later line closing them dedents.
    let mut stack: Vec<i32> = Vec::new();
    for line in lines {
        let (s, e) = line.lead;
        if s == e {
            continue;
        }
        if cells[s].kind == Kind::Newline {
            cells[s].spaces = 0;
            continue;
        }
        let mut net = net_brackets(cells, s, e);
        if let Some((as_, ae)) = line.assign {
            net += net_brackets(cells, as_, ae);
        }
        if net > 0 {
            cells[s].spaces = 2 * stack.len();
            stack.push(net);
        } else {
            let mut closed = -net;
            while closed > 0 {
                let Some(top) = stack.last_mut() else { break };
                if closed >= *top {
                    closed -= *top;
                    stack.pop();
                } else {
                    *top -= closed;
                    closed = 0;
                }
            }
            cells[s].spaces = 2 * stack.len();
        }
    }
}

fn space(cells: &mut [Cell], lines: &[Line]) {
    for line in lines {
        let (s, e) = line.lead;
        space_run(cells, s, e);
        if let Some((s, e)) = line.assign {
            // The `=` is separated by one space from what it assigns to.
            cells[s].spaces = 1;
            space_run(cells, s, e);
        }
    }
}

fn space_run(cells: &mut [Cell], s: usize, e: usize) {
    for i in s..e.saturating_sub(1) {
        let before = if i > s { Some(cells[i - 1].kind) } else { None };
        let sp = space_after(&cells[i], before, &cells[i + 1]);
        cells[i + 1].spaces = usize::from(sp);
    }
}

/// Whether one space goes between `subject` and `after`; `before` precedes `subject` on the
/// same cell (None at the start).
fn space_after(subject: &Cell, before: Option<Kind>, after: &Cell) -> bool {
    use Kind::*;
    let (s, a) = (subject.kind, after.kind);
    if a == Newline {
        return false;
    }
    if s == Ident && a == OParen {
        return false;
    }
    if s == Dot || a == Dot {
        return false;
    }
    if a == Comma || a == Ellipsis {
        return false;
    }
    if s == Comma {
        return true;
    }
    if matches!(s, QuotedLit | StringLit | OQuote | OHeredoc) || matches!(a, QuotedLit | StringLit | CQuote | CHeredoc)
    {
        // Nothing is added inside templates.
        return false;
    }
    if s == Ident && subject.text == "in" && before == Some(Ident) {
        // The `in` of a for expression, even when a tuple follows: `for x in [a]`.
        return true;
    }
    if a == OBrack && (s == Ident || s == Number || bracket_change(s) < 0) {
        return false;
    }
    if s == Minus {
        // A minus after something that cannot end an operand is a negation.
        return !matches!(
            before,
            None | Some(
                OParen
                    | OBrace
                    | OBrack
                    | Equal
                    | Colon
                    | Comma
                    | Question
                    | Plus
                    | Star
                    | Slash
                    | Percent
                    | Minus
                    | EqualOp
                    | NotEqual
                    | Gt
                    | Gte
                    | Lt
                    | Lte
                    | And
                    | Or
                    | Bang
            )
        );
    }
    if s == OBrace || a == CBrace {
        // Braces get inner spaces (`{ a = 1 }`), except an empty pair.
        return !(s == OBrace && a == CBrace);
    }
    if matches!(s, TemplateInterp | TemplateControl) && a == OBrace {
        return true;
    }
    if s == CBrace && a == TemplateSeqEnd {
        return true;
    }
    if s == TemplateSeqEnd && matches!(a, TemplateInterp | TemplateControl) {
        return false;
    }
    if bracket_change(s) > 0 || bracket_change(a) < 0 {
        return false;
    }
    true
}

/// Width of a token range as HCL measures it: spaces plus user-perceived characters.
fn columns(cells: &[Cell], range: (usize, usize)) -> usize {
    cells[range.0..range.1].iter().map(|c| c.spaces + c.text.graphemes(true).count()).sum()
}

fn align(cells: &mut [Cell], lines: &[Line]) {
    // `=` signs first, since moving them moves the trailing comments too.
    let mut run: Vec<&Line> = Vec::new();
    let flush = |run: &mut Vec<&Line>, cells: &mut [Cell]| {
        let max = run.iter().map(|l| columns(cells, l.lead)).max().unwrap_or(0);
        for l in run.iter() {
            if let Some((s, _)) = l.assign {
                cells[s].spaces = max - columns(cells, l.lead) + 1;
            }
        }
        run.clear();
    };
    for line in lines {
        if line.assign.is_some() {
            run.push(line);
        } else {
            flush(&mut run, cells);
        }
    }
    flush(&mut run, cells);

    let width = |cells: &[Cell], l: &Line| columns(cells, l.lead) + l.assign.map_or(0, |a| columns(cells, a));
    let mut run: Vec<&Line> = Vec::new();
    let flush = |run: &mut Vec<&Line>, cells: &mut [Cell]| {
        let max = run.iter().map(|l| width(cells, l)).max().unwrap_or(0);
        for l in run.iter() {
            if let Some((s, _)) = l.comment {
                cells[s].spaces = max - width(cells, l) + 1;
            }
        }
        run.clear();
    };
    for line in lines {
        if line.comment.is_some() {
            run.push(line);
        } else {
            flush(&mut run, cells);
        }
    }
    flush(&mut run, cells);
}
