//! Answers under the text budget (`MAX_TEXT_BYTES`): a result whose text
//! would exceed it is answered a page at a time from one held [`Snapshot`].
//! This module decides where a page ends and says so in the answer (the
//! `next_cursor`, `page` and `total_rows` of `structuredContent`, and a note
//! that tells the model exactly how to ask for the rest); holding snapshots
//! and making cursors is the server's (`server::held`).
//!
//! A page's text is its rows as JSON plus its notes; it stays within the
//! budget unless a single row is larger than the budget on its own (a page
//! always carries at least one row). Every page also fits twice in one MCP
//! message, so its rows are always in both the text and `structuredContent`.

use super::era::Era;
use super::results::{self, Answer, Count, MAX_RESULT_BYTES};
use crate::osquery::Table;
use crate::tools::{Failure, Fetched, Outcome, StructuredMeta, ToolName};

/// Text the paging note may take, kept free of rows on every page.
pub const NOTE_ROOM: usize = 512;

/// Room a message keeps for everything but its two copies of the rows: the
/// metadata (the SQL, escaped, up to 60 KB), the notes and the envelope.
const MESSAGE_ROOM: usize = 128 * 1024;

/// A run's rows, already cut, enriched and redacted, kept so that its pages
/// can be served without running the query again.
#[derive(Debug)]
pub struct Snapshot {
    pub tool: ToolName,
    pub table: Table,
    pub meta: StructuredMeta,
    /// The engine's note (rows cut at `limit`), repeated on every page.
    pub note: Option<String>,
}

impl Snapshot {
    pub fn new(tool: ToolName, fetched: Fetched) -> Snapshot {
        Snapshot {
            tool,
            table: fetched.rows,
            meta: fetched.meta,
            note: fetched.note,
        }
    }

    /// Memory the snapshot holds.
    pub fn heap_bytes(&self) -> usize {
        self.table.heap_bytes()
            + self.meta.sql.as_ref().map_or(0, String::len)
            + self.note.as_ref().map_or(0, String::len)
            + std::mem::size_of::<Snapshot>()
    }

    /// Where the page starting at row `start` ends.
    pub fn page_end(&self, start: usize, budget: usize) -> usize {
        page_end(&self.table, start, budget, paged_notes(&self.note))
    }
}

/// Where the first answer of a fresh result ends: `None` when every row
/// fits in one answer, else the end of page 1.
pub fn first_page(fetched: &Fetched, budget: usize) -> Option<usize> {
    let notes = fetched.note.as_ref().map_or(0, String::len);
    let table = &fetched.rows;
    if page_end(table, 0, budget, notes) == table.len() {
        return None;
    }
    Some(page_end(table, 0, budget, paged_notes(&fetched.note)))
}

/// The text a paged answer's notes may take: the engine's note, a line
/// break, and the paging note.
fn paged_notes(note: &Option<String>) -> usize {
    note.as_ref().map_or(0, |n| n.len() + 1) + NOTE_ROOM
}

/// The end of the page that starts at `start`: as many rows as fit in
/// `budget` bytes of text next to `notes` bytes of notes, and twice in one
/// message; at least one row.
pub fn page_end(table: &Table, start: usize, budget: usize, notes: usize) -> usize {
    let mut size = Count::default();
    let mut end = start;
    while end < table.len() {
        if serde_json::to_writer(&mut size, &table.row(end)).is_err() {
            return end.max(start + 1);
        }
        // `[`, `]` and the commas: one byte a row, and one more.
        let text = size.raw + (end - start + 1) + 1;
        let message = 2 * text + size.escapes;
        if end > start
            && (text + notes > budget || message > MAX_RESULT_BYTES.saturating_sub(MESSAGE_ROOM))
        {
            return end;
        }
        end += 1;
    }
    end
}

/// Every row of a fresh result in one answer.
pub fn whole(fetched: Fetched, era: Era) -> Answer {
    let range = 0..fetched.rows.len();
    let result = results::success(
        fetched.rows,
        range,
        &fetched.meta,
        fetched.note.as_deref(),
        era,
    );
    ok(result)
}

/// Page `number` (from 1) of a held snapshot: rows `start..end`, and the
/// cursor of the next page unless this is the last.
pub fn page(
    snap: &Snapshot,
    start: usize,
    end: usize,
    number: usize,
    next_cursor: Option<String>,
    era: Era,
) -> Answer {
    let total = snap.table.len();
    let tool = snap.tool.as_str();
    let paging = match &next_cursor {
        Some(cursor) => format!(
            "Page {number} of this result: rows {}-{end} of {total}. {} more rows remain: \
             call {tool} with {{\"cursor\": \"{cursor}\"}} for the next page (the cursor alone \
             is enough; the query does not run again).",
            start + 1,
            total - end
        ),
        None => format!(
            "Page {number}, the last of this result: rows {}-{end} of {total}.",
            start + 1
        ),
    };
    debug_assert!(paging.len() <= NOTE_ROOM, "{paging}");
    let meta = StructuredMeta {
        next_cursor,
        page: Some(number),
        row_count: end - start,
        total_rows: Some(total),
        ..snap.meta.clone()
    };
    let note = join(snap.note.as_deref(), &paging);
    ok(results::success(
        &snap.table,
        start..end,
        &meta,
        Some(&note),
        era,
    ))
}

/// The first rows of a result too large to hold for paging: the rest is
/// lost, and the note says how to get it.
pub fn unheld(snap: Snapshot, end: usize, held_limit: usize, era: Era) -> Answer {
    let total = snap.table.len();
    let more = format!(
        "Showing rows 1-{end} of {total}: the other {} rows are more than the {} MiB held for \
         paging (MAX_HELD_BYTES); narrow the query with WHERE or LIMIT to see them.",
        total - end,
        held_limit >> 20
    );
    let note = join(snap.note.as_deref(), &more);
    let meta = StructuredMeta {
        row_count: end,
        total_rows: Some(total),
        ..snap.meta
    };
    ok(results::success(
        snap.table,
        0..end,
        &meta,
        Some(&note),
        era,
    ))
}

/// Why a cursor was refused, as the model reads it.
pub enum Refused {
    /// Never ours, or held too long (or crowded out) and dropped.
    Unknown,
    /// Made by another tool.
    OtherTool(ToolName),
}

pub fn refused(why: Refused, tool: ToolName, held_minutes: u64, era: Era) -> Answer {
    let message = match why {
        Refused::Unknown => format!(
            "this cursor is unknown or has expired (results are held for {held_minutes} minutes, \
             and the oldest are dropped first when memory runs short); call {tool} again \
             without a cursor to run the query again"
        ),
        Refused::OtherTool(owner) => {
            format!("this cursor belongs to a result of {owner}, not {tool}: call {owner} with it")
        }
    };
    failure(
        Failure {
            message,
            outcome: Outcome::ToolError,
        },
        era,
    )
}

pub fn failure(f: Failure, era: Era) -> Answer {
    Answer {
        result: results::error(&f.message, era),
        outcome: f.outcome,
    }
}

fn ok(result: Box<serde_json::value::RawValue>) -> Answer {
    Answer {
        result,
        outcome: Outcome::Ok,
    }
}

fn join(first: Option<&str>, then: &str) -> String {
    match first {
        Some(first) => format!("{first}\n{then}"),
        None => then.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::osquery::TableBuilder;

    fn table(rows: usize, pad: usize) -> Table {
        let mut t = TableBuilder::new();
        for i in 0..rows {
            t.push_row([("n", format!("{i:03}")), ("pad", "\"".repeat(pad))]);
        }
        t.finish().expect("small")
    }

    fn text_of(t: &Table, range: std::ops::Range<usize>) -> usize {
        serde_json::to_string(&t.slice(range)).map_or(0, |s| s.len())
    }

    #[test]
    fn a_page_is_the_most_rows_whose_text_fits() {
        let t = table(100, 10);
        for (start, budget, notes) in [(0, 1000, 0), (0, 1000, 200), (37, 1000, 0), (0, 300, 0)] {
            let end = page_end(&t, start, budget, notes);
            assert!(end > start);
            assert!(
                text_of(&t, start..end) + notes <= budget,
                "{start} {budget} {notes}"
            );
            assert!(end == t.len() || text_of(&t, start..end + 1) + notes > budget);
        }
        assert_eq!(page_end(&t, 0, usize::MAX, 0), 100);
        assert_eq!(
            page_end(&t, 99, 10, 0),
            100,
            "at least one row, however small the budget"
        );
        assert_eq!(page_end(&t, 100, 10, 0), 100);
    }

    #[test]
    fn a_page_fits_twice_in_one_message_whatever_the_budget() {
        // Rows of quotes: escaped twice over in the text copy.
        let t = table(40, 1 << 18);
        let message = |end: usize| {
            let mut size = Count::default();
            let _ = serde_json::to_writer(&mut size, &t.slice(0..end));
            2 * size.raw + size.escapes
        };
        let end = page_end(&t, 0, usize::MAX, 0);
        assert!((2..40).contains(&end), "{end}");
        assert!(message(end) <= MAX_RESULT_BYTES - MESSAGE_ROOM);
        assert!(message(end + 1) > MAX_RESULT_BYTES - MESSAGE_ROOM);
    }
}
