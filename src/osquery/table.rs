//! A query's rows as one compact table: column names once, every cell's text
//! in one string with an end offset per cell. osquery gives only strings, so
//! a row costs its text and four bytes a cell, not a map of JSON values.
//!
//! Cells of a row are kept in column-name order, the order osqueryi prints
//! and rows have always been answered in. Rows of one statement share their
//! columns (the dense layout: no per-row bookkeeping). A row with another set
//! of columns (several statements' rows merged, or any valid JSON a backend
//! might send) switches the table to the uneven layout, where each row lists
//! which columns it has: nothing is lost, nothing is filled in.

use std::collections::HashMap;
use std::ops::Range;

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// The rows of one result.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Table {
    /// Dense: every row's columns, sorted. Uneven: every column any row has.
    columns: Vec<String>,
    /// The text of every cell, one after another.
    text: String,
    /// Where each cell's text ends in `text`; a cell starts where the one
    /// before it ends.
    ends: Vec<u32>,
    rows: usize,
    uneven: Option<Uneven>,
}

/// Which cells belong to which row and column, for tables whose rows differ.
#[derive(Debug, Default, Clone, PartialEq)]
struct Uneven {
    /// The first cell of each row, and one past the last cell at the end.
    starts: Vec<u32>,
    /// The column of each cell.
    cols: Vec<u32>,
}

impl Table {
    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    pub fn row(&self, i: usize) -> RowRef<'_> {
        RowRef { table: self, i }
    }

    pub fn rows(&self) -> impl Iterator<Item = RowRef<'_>> {
        (0..self.rows).map(|i| self.row(i))
    }

    /// Rows `range` as a JSON array of objects (for serde).
    pub fn slice(&self, range: Range<usize>) -> Rows<'_> {
        let end = range.end.min(self.rows);
        Rows {
            table: self,
            range: range.start.min(end)..end,
        }
    }

    /// Memory this table holds on the heap, as far as it knows.
    pub fn heap_bytes(&self) -> usize {
        let uneven = self
            .uneven
            .as_ref()
            .map_or(0, |u| (u.starts.capacity() + u.cols.capacity()) * 4);
        self.text.capacity()
            + self.ends.capacity() * 4
            + self
                .columns
                .iter()
                .map(|c| c.capacity() + 24)
                .sum::<usize>()
            + uneven
    }

    /// Keeps the first `n` rows.
    pub fn truncate(&mut self, n: usize) {
        if n >= self.rows {
            return;
        }
        let cells = self.cell_range(n).start;
        self.ends.truncate(cells);
        let bytes = self.ends.last().map_or(0, |&e| e as usize);
        self.text.truncate(bytes);
        if let Some(u) = &mut self.uneven {
            u.starts.truncate(n + 1);
            u.cols.truncate(cells);
        }
        self.rows = n;
    }

    /// Replaces each cell's text by what `f` gives for it (`None`: keep it);
    /// returns how many changed. The text is copied only from the first
    /// change on.
    pub fn replace_values(
        &mut self,
        mut f: impl FnMut(&str) -> Option<String>,
    ) -> Result<usize, TooLarge> {
        let mut changed = 0;
        let mut rebuilt: Option<String> = None;
        let mut start = 0;
        for k in 0..self.ends.len() {
            let end = self.ends[k] as usize;
            let old = self.text.get(start..end).unwrap_or_default();
            let new = f(old);
            if new.is_some() {
                changed += 1;
            }
            match (&mut rebuilt, new) {
                (None, None) => {}
                (None, Some(new)) => {
                    let mut text = String::with_capacity(self.text.len() + new.len());
                    text.push_str(self.text.get(..start).unwrap_or_default());
                    text.push_str(&new);
                    self.ends[k] = offset(text.len())?;
                    rebuilt = Some(text);
                }
                (Some(text), new) => {
                    text.push_str(new.as_deref().unwrap_or(old));
                    self.ends[k] = offset(text.len())?;
                }
            }
            start = end;
        }
        if let Some(text) = rebuilt {
            self.text = text;
        }
        Ok(changed)
    }

    /// The cells of row `i`, as indices into `ends`.
    fn cell_range(&self, i: usize) -> Range<usize> {
        match &self.uneven {
            Some(u) => {
                let at = |r: usize| u.starts.get(r).map_or(self.ends.len(), |&s| s as usize);
                at(i)..at(i + 1)
            }
            None => i * self.columns.len()..(i + 1) * self.columns.len(),
        }
    }

    fn cell(&self, k: usize) -> &str {
        let start = if k == 0 { 0 } else { self.ends[k - 1] as usize };
        self.text
            .get(start..self.ends[k] as usize)
            .unwrap_or_default()
    }

    fn column_of(&self, row_start: usize, k: usize) -> &str {
        let c = match &self.uneven {
            Some(u) => u.cols[k] as usize,
            None => k - row_start,
        };
        &self.columns[c]
    }
}

/// A table's text grew past what its offsets can address (4 GiB).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TooLarge;

fn offset(len: usize) -> Result<u32, TooLarge> {
    u32::try_from(len).map_err(|_| TooLarge)
}

/// One row of a [`Table`].
#[derive(Clone, Copy)]
pub struct RowRef<'a> {
    table: &'a Table,
    i: usize,
}

impl<'a> RowRef<'a> {
    /// (column, value) in column-name order.
    pub fn cells(self) -> impl Iterator<Item = (&'a str, &'a str)> {
        let t = self.table;
        let range = t.cell_range(self.i);
        let first = range.start;
        range.map(move |k| (t.column_of(first, k), t.cell(k)))
    }

    pub fn get(self, column: &str) -> Option<&'a str> {
        let t = self.table;
        if t.uneven.is_none() {
            let c = t
                .columns
                .binary_search_by(|c| c.as_str().cmp(column))
                .ok()?;
            return Some(t.cell(self.i * t.columns.len() + c));
        }
        self.cells().find(|(c, _)| *c == column).map(|(_, v)| v)
    }
}

impl Serialize for RowRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let range = self.table.cell_range(self.i);
        let mut map = s.serialize_map(Some(range.len()))?;
        for (k, v) in self.cells() {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// Consecutive rows of a [`Table`], serialised as a JSON array of objects.
#[derive(Clone)]
pub struct Rows<'a> {
    table: &'a Table,
    range: Range<usize>,
}

impl<'a> Rows<'a> {
    pub fn iter(&self) -> impl Iterator<Item = RowRef<'a>> + use<'a> {
        let table = self.table;
        self.range.clone().map(move |i| table.row(i))
    }

    pub fn len(&self) -> usize {
        self.range.len()
    }

    pub fn is_empty(&self) -> bool {
        self.range.is_empty()
    }
}

impl Serialize for Rows<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.range.len()))?;
        for i in self.range.clone() {
            seq.serialize_element(&self.table.row(i))?;
        }
        seq.end()
    }
}

impl Serialize for Table {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.slice(0..self.rows).serialize(s)
    }
}

/// Builds a [`Table`] a row at a time, for any backend: whole rows with
/// [`TableBuilder::push_row`], or, for a parser that decodes straight into
/// the table, [`TableBuilder::key`], [`TableBuilder::value`] and
/// [`TableBuilder::end_cell`] per cell, then [`TableBuilder::end_row`].
#[derive(Debug, Default)]
pub struct TableBuilder {
    /// Everything but the text, which is built as bytes here.
    table: Table,
    text: Vec<u8>,
    /// The keys of the row being built, one after another.
    keys: String,
    key_ends: Vec<usize>,
    /// Where the row being built starts in `text` and `ends`.
    row_text: usize,
    row_cells: usize,
    /// Uneven tables: each column's index, so that many distinct columns
    /// cost no more than many rows.
    index: HashMap<String, u32>,
    /// The text outgrew its offsets; `finish` says so.
    too_large: bool,
}

impl TableBuilder {
    pub fn new() -> TableBuilder {
        TableBuilder::default()
    }

    /// Adds one row. A column named twice keeps its last value, as in a
    /// JSON object.
    pub fn push_row<K: AsRef<str>, V: AsRef<str>>(
        &mut self,
        cells: impl IntoIterator<Item = (K, V)>,
    ) {
        for (k, v) in cells {
            self.key(k.as_ref());
            self.value().extend_from_slice(v.as_ref().as_bytes());
            self.end_cell();
        }
        self.end_row();
    }

    /// Starts a cell of the current row: its column.
    pub fn key(&mut self, key: &str) {
        self.keys.push_str(key);
        self.key_ends.push(self.keys.len());
    }

    /// Where the current cell's text goes. Bytes that are not UTF-8 are
    /// replaced (U+FFFD) when the cell ends.
    pub fn value(&mut self) -> &mut Vec<u8> {
        &mut self.text
    }

    /// Ends the current cell.
    pub fn end_cell(&mut self) {
        let start = self.table.ends.last().map_or(0, |&e| e as usize);
        if let Some(cell) = self.text.get(start..)
            && std::str::from_utf8(cell).is_err()
        {
            let fixed = String::from_utf8_lossy(cell).into_owned();
            self.text.truncate(start);
            self.text.extend_from_slice(fixed.as_bytes());
        }
        let end = self.offset(self.text.len());
        self.table.ends.push(end);
    }

    /// Ends the current row.
    pub fn end_row(&mut self) {
        let t = &self.table;
        let n = self.key_ends.len();
        let first = t.rows == 0 && t.uneven.is_none();
        let same = t.uneven.is_none()
            && t.rows > 0
            && n == t.columns.len()
            && (0..n).all(|i| self.row_key(i) == t.columns[i]);
        if first && (1..n).all(|i| self.row_key(i - 1) < self.row_key(i)) {
            // The first row's keys are in column order already, as osqueryi
            // prints them and osqueryd's maps hold them: they are the
            // columns, and its cells stay where they are (no copy of them).
            self.table.columns = (0..n).map(|i| self.row_key(i).to_string()).collect();
        } else if !same {
            self.rearrange();
        }
        self.table.rows += 1;
        self.keys.clear();
        self.key_ends.clear();
        self.row_text = self.text.len();
        self.row_cells = self.table.ends.len();
    }

    /// The table, or [`TooLarge`] when its text outgrew 4 GiB.
    pub fn finish(self) -> Result<Table, TooLarge> {
        if self.too_large {
            return Err(TooLarge);
        }
        let mut t = self.table;
        // Every cell was checked as it ended.
        t.text = String::from_utf8(self.text)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        t.text.shrink_to_fit();
        t.ends.shrink_to_fit();
        if let Some(u) = &mut t.uneven {
            u.starts.push(t.ends.len() as u32);
            u.starts.shrink_to_fit();
            u.cols.shrink_to_fit();
        }
        Ok(t)
    }

    fn offset(&mut self, len: usize) -> u32 {
        offset(len).unwrap_or_else(|TooLarge| {
            self.too_large = true;
            u32::MAX
        })
    }

    fn row_key(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.key_ends[i - 1] };
        self.keys.get(start..self.key_ends[i]).unwrap_or_default()
    }

    /// The current row's cells differ from the table's columns (or it is
    /// the first row): put them in column order, the last value of a
    /// repeated column winning, and record which columns they are.
    fn rearrange(&mut self) {
        let mut start = self.row_text;
        let values: Vec<String> = self.table.ends[self.row_cells..]
            .iter()
            .map(|&end| {
                let end = (end as usize).min(self.text.len());
                let v = String::from_utf8_lossy(self.text.get(start..end).unwrap_or_default());
                start = end;
                v.into_owned()
            })
            .collect();
        self.text.truncate(self.row_text);
        self.table.ends.truncate(self.row_cells);
        let mut order: Vec<usize> = (0..values.len()).collect();
        // Stable, so of a repeated column the last one stays last.
        order.sort_by(|&a, &b| self.row_key(a).cmp(self.row_key(b)));
        let mut cells: Vec<(String, &str)> = Vec::with_capacity(order.len());
        for i in order {
            let (k, v) = (self.row_key(i), values[i].as_str());
            match cells.last_mut() {
                Some(last) if last.0 == k => last.1 = v,
                _ => cells.push((k.to_string(), v)),
            }
        }
        let t = &mut self.table;
        if t.rows == 0 && t.uneven.is_none() {
            t.columns = cells.iter().map(|(k, _)| k.clone()).collect();
        }
        let fits = t.uneven.is_none()
            && cells.len() == t.columns.len()
            && cells.iter().zip(&t.columns).all(|((k, _), c)| k == c);
        if !fits && t.uneven.is_none() {
            let width = t.columns.len();
            t.uneven = Some(Uneven {
                starts: (0..t.rows).map(|r| (r * width) as u32).collect(),
                cols: (0..t.rows).flat_map(|_| 0..width as u32).collect(),
            });
            self.index = (0..).zip(&t.columns).map(|(i, c)| (c.clone(), i)).collect();
        }
        if let Some(u) = &mut t.uneven {
            u.starts.push(t.ends.len() as u32);
            for (k, _) in &cells {
                let next = t.columns.len() as u32;
                let c = *self.index.entry(k.clone()).or_insert(next);
                if c == next {
                    t.columns.push(k.clone());
                }
                u.cols.push(c);
            }
        }
        for (_, v) in cells {
            self.text.extend_from_slice(v.as_bytes());
            let end = self.offset(self.text.len());
            self.table.ends.push(end);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn json_of(t: &Table) -> Value {
        serde_json::to_value(t).expect("serialises")
    }

    fn dense(n: usize) -> Table {
        let mut b = TableBuilder::new();
        for i in 0..n {
            b.push_row([("n", i.to_string()), ("pad", "x".repeat(i))]);
        }
        b.finish().expect("small")
    }

    #[test]
    fn rows_of_one_shape_cost_their_text_and_four_bytes_a_cell() {
        let t = dense(1000);
        assert!(t.uneven.is_none());
        assert_eq!(t.columns, ["n", "pad"]);
        let text: usize = (0..1000).map(|i: usize| i.to_string().len() + i).sum();
        assert_eq!(t.text.len(), text);
        assert!(
            t.heap_bytes() < text + 1000 * 2 * 4 + 100,
            "{}",
            t.heap_bytes()
        );
        assert_eq!(t.row(7).get("pad"), Some("xxxxxxx"));
        assert_eq!(t.row(7).get("nope"), None);
    }

    #[test]
    fn cells_are_kept_in_column_order_whatever_order_they_come_in() {
        let mut b = TableBuilder::new();
        b.push_row([("b", "1"), ("a", "2")]);
        b.push_row([("a", "3"), ("b", "4")]);
        b.push_row([("b", "5"), ("a", "6")]);
        let t = b.finish().expect("small");
        assert!(t.uneven.is_none(), "one set of columns stays dense");
        assert_eq!(
            json_of(&t).to_string(),
            r#"[{"a":"2","b":"1"},{"a":"3","b":"4"},{"a":"6","b":"5"}]"#
        );
    }

    #[test]
    fn a_first_row_already_in_column_order_builds_the_same_table() {
        let rows = [
            [("a", "1"), ("b", "x"), ("c", "")],
            [("a", "2"), ("b", "y"), ("c", "z")],
        ];
        let build = |reverse: bool| {
            let mut b = TableBuilder::new();
            for row in rows {
                let mut cells = row.to_vec();
                if reverse {
                    cells.reverse();
                }
                b.push_row(cells);
            }
            b.finish().expect("small")
        };
        let (in_order, to_sort) = (build(false), build(true));
        assert_eq!(in_order, to_sort);
        assert_eq!(in_order.columns, ["a", "b", "c"]);
        assert!(in_order.uneven.is_none());
    }

    #[test]
    fn truncating_keeps_the_first_rows_in_both_layouts() {
        let mut t = dense(10);
        t.truncate(3);
        assert_eq!(
            json_of(&t),
            json!([{"n": "0", "pad": ""}, {"n": "1", "pad": "x"}, {"n": "2", "pad": "xx"}])
        );
        t.truncate(5);
        assert_eq!(t.len(), 3);
        let mut b = TableBuilder::new();
        b.push_row([("a", "1")]);
        b.push_row([("b", "2")]);
        b.push_row([("c", "3")]);
        let mut t = b.finish().expect("small");
        t.truncate(2);
        assert_eq!(json_of(&t), json!([{"a": "1"}, {"b": "2"}]));
        t.truncate(0);
        assert_eq!(json_of(&t), json!([]));
    }

    #[test]
    fn replacing_values_copies_only_from_the_first_change() {
        let mut t = dense(4);
        let before = t.text.as_ptr();
        assert_eq!(t.replace_values(|_| None), Ok(0));
        assert_eq!(t.text.as_ptr(), before, "nothing changed, nothing copied");
        let changed =
            t.replace_values(|v| (v == "x" || v == "2").then(|| "[REDACTED]".to_string()));
        assert_eq!(changed, Ok(2));
        assert_eq!(
            json_of(&t),
            json!([
                {"n": "0", "pad": ""},
                {"n": "1", "pad": "[REDACTED]"},
                {"n": "[REDACTED]", "pad": "xx"},
                {"n": "3", "pad": "xxx"},
            ])
        );
    }

    #[test]
    fn many_distinct_columns_cost_what_their_cells_do() {
        let mut b = TableBuilder::new();
        for i in 0..20_000 {
            b.push_row([(format!("k{i}"), "v")]);
        }
        let t = b.finish().expect("small");
        assert_eq!(t.len(), 20_000);
        assert_eq!(t.row(19_999).cells().collect::<Vec<_>>(), [("k19999", "v")]);
        assert!(t.heap_bytes() < 20_000 * 64, "{}", t.heap_bytes());
    }

    #[test]
    fn a_slice_serialises_its_rows_only() {
        let t = dense(5);
        let s = t.slice(3..99);
        assert_eq!((s.len(), s.iter().count()), (2, 2));
        assert_eq!(
            serde_json::to_value(&s).expect("rows"),
            json!([{"n": "3", "pad": "xxx"}, {"n": "4", "pad": "xxxx"}])
        );
        assert!(t.slice(9..12).is_empty());
    }
}
