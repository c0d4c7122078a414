//! CSV import, shared by `kairos import csv` and `POST /api/v1/imports/csv`: reads a file from any `Read` in
//! batches of [`CSV_BATCH_ROWS`] rows (never the whole file), maps each row with
//! `kairos_integrations::csv_rows`, groups consecutive rows of one order or product, and hands the records to a
//! [`Sink`] (the engine: [`EngineSink`]); every rejected row goes to a [`Report`] with its line, column and reason.
//!
//! Line numbers are a spreadsheet's row numbers: the header is line 1, the first data row line 2 (a quoted cell
//! spanning several text lines is one row).

mod reader;
mod sink;

use std::collections::HashSet;
use std::io::Read;

use kairos_domain::{Event, Product};
use kairos_integrations::csv_rows::{self, Kind, Mapping, OrderLine, ProductLine, Rejection, RowContext};

pub use reader::{CSV_ROW_BYTES_MAX, Counting, sniff_delimiter};
pub use sink::{EngineSink, known_orders, order_key, order_text};

/// Rows mapped before their records are handed to the sink in one call.
pub const CSV_BATCH_ROWS: usize = 1_000;
/// Most rows of one product (Shopify writes one per variant and image); more reject the product.
pub const CSV_PRODUCT_ROWS_MAX: usize = 1_000;
/// The reason of a row left out because it names an erased person who has not consented again.
pub const CSV_ERASED_REASON: &str = "erased person (no new consent)";

/// Where records go.
pub trait Sink {
    /// Ingests records (each the events of one row or order), trusted; answers what was stored.
    fn records(&mut self, records: Vec<Vec<Event>>) -> Result<kairos_engine::Imported, ImportError>;
    /// Upserts catalog products (a stored product changed later is kept).
    fn products(&mut self, products: Vec<Product>) -> Result<(), ImportError>;
    /// The [`order_key`]s of the orders already stored (imports older than the engine's de-duplication window
    /// included).
    fn known_orders(&mut self) -> Result<HashSet<u64>, ImportError>;
}

/// Where rejected rows and progress go.
pub trait Report {
    /// The file's header, before any row.
    fn header(&mut self, names: &[String]) -> Result<(), ImportError>;
    /// A rejected row: its line, its cells as read, the column at fault (empty: the whole row) and why.
    fn rejected(&mut self, line: u64, cells: &[String], column: &str, reason: &str) -> Result<(), ImportError>;
    /// Bytes of the file read so far.
    fn progress(&mut self, _bytes: u64) {}
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The header names no column Kairos needs (or the file has none).
    #[error("{0}")]
    Header(String),
    /// The file cannot be read as CSV from here on.
    #[error("line {line}: {message}")]
    Malformed { line: u64, message: String },
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Engine(#[from] kairos_engine::EngineError),
}

/// What an import did, in rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Rows taken in (stored now, or already stored by an earlier import of the same data).
    pub imported: u64,
    pub rejected: u64,
    /// Events stored now.
    pub events_stored: u64,
    /// Events, and orders, found already stored (a re-import).
    pub already_stored: u64,
}

/// One row kept until its record is stored: its line and cells (for the report if it is left out).
type Row = (u64, Vec<String>);

/// A record waiting in the batch: its rows and events.
struct Pending {
    rows: Vec<Row>,
    events: Vec<Event>,
}

/// Consecutive rows sharing a key (one order or product), and the first rejection among them.
struct Group<L> {
    key: String,
    rows: Vec<Row>,
    lines: Vec<L>,
    poisoned: Option<(u64, Rejection)>,
}

/// Imports `input` as a file of `kind`.
pub fn import(
    kind: Kind,
    input: impl Read,
    cx: RowContext,
    sink: &mut dyn Sink,
    report: &mut dyn Report,
) -> Result<Summary, ImportError> {
    let mut input = std::io::BufReader::with_capacity(64 * 1024, input);
    let delimiter = sniff_delimiter(&mut input)?;
    let mut csv = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(Counting::new(input));
    let mut record = csv::ByteRecord::new();
    let malformed = |line: u64, e: csv::Error| ImportError::Malformed { line, message: e.to_string() };
    if !csv.read_byte_record(&mut record).map_err(|e| malformed(1, e))? {
        return Err(ImportError::Header("the file is empty: the first line must name the columns".into()));
    }
    let names: Vec<String> = record.iter().map(|c| String::from_utf8_lossy(c).into_owned()).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mapping = csv_rows::map_header(kind, &refs).map_err(|e| ImportError::Header(e.message))?;
    report.header(&names)?;
    let mut run = Run::new(kind, mapping, cx, sink, report)?;
    let mut line = 1u64;
    loop {
        csv.get_mut().mark_row();
        if !csv.read_byte_record(&mut record).map_err(|e| malformed(line + 1, e))? {
            break;
        }
        line += 1;
        run.row(line, &record)?;
        if line.is_multiple_of(CSV_BATCH_ROWS as u64) {
            run.report.progress(csv.get_ref().consumed());
        }
    }
    run.finish()?;
    run.report.progress(csv.get_ref().consumed());
    Ok(run.summary)
}

/// The state of one import.
struct Run<'a> {
    kind: Kind,
    m: Mapping,
    cx: RowContext,
    sink: &'a mut dyn Sink,
    report: &'a mut dyn Report,
    summary: Summary,
    batch: Vec<Pending>,
    batch_rows: usize,
    products: Vec<(Vec<Row>, Product)>,
    orders: Option<Group<OrderLine>>,
    product_rows: Option<Group<ProductLine>>,
    known_orders: HashSet<u64>,
}

impl<'a> Run<'a> {
    fn new(
        kind: Kind,
        m: Mapping,
        cx: RowContext,
        sink: &'a mut dyn Sink,
        report: &'a mut dyn Report,
    ) -> Result<Run<'a>, ImportError> {
        let known_orders = if kind == Kind::Orders { sink.known_orders()? } else { HashSet::new() };
        Ok(Run {
            kind,
            m,
            cx,
            sink,
            report,
            summary: Summary::default(),
            batch: Vec::new(),
            batch_rows: 0,
            products: Vec::new(),
            orders: None,
            product_rows: None,
            known_orders,
        })
    }

    fn reject(&mut self, rows: &[Row], column: &str, reason: &str) -> Result<(), ImportError> {
        for (line, cells) in rows {
            self.report.rejected(*line, cells, column, reason)?;
            self.summary.rejected += 1;
        }
        Ok(())
    }

    fn row(&mut self, line: u64, record: &csv::ByteRecord) -> Result<(), ImportError> {
        let cells: Vec<String> = record.iter().map(|c| String::from_utf8_lossy(c).into_owned()).collect();
        if let Some(i) = record.iter().position(|c| std::str::from_utf8(c).is_err()) {
            let column = self.m.names.get(i).cloned().unwrap_or_default();
            return self.reject(&[(line, cells)], &column, "not UTF-8 text (save the file as CSV UTF-8)");
        }
        match self.kind {
            Kind::Contacts => {
                let refs: Vec<&str> = cells.iter().map(String::as_str).collect();
                match csv_rows::contact_events(&self.m, &refs, &self.cx) {
                    Ok(events) => self.push(vec![(line, cells)], events),
                    Err(r) => self.reject(&[(line, cells)], &r.column, &r.reason),
                }
            }
            Kind::Orders => self.order_row(line, cells),
            Kind::Products => self.product_row(line, cells),
        }
    }

    fn order_row(&mut self, line: u64, cells: Vec<String>) -> Result<(), ImportError> {
        let refs: Vec<&str> = cells.iter().map(String::as_str).collect();
        let key = self.m.key(&refs);
        if self.orders.as_ref().is_some_and(|g| Some(&g.key) != key.as_ref()) {
            self.finish_order()?;
        }
        let parsed = csv_rows::order_line(&self.m, &refs, &self.cx);
        let Some(key) = key else {
            let r = parsed.err().unwrap_or_else(|| Rejection::new("", "the row has no order id"));
            return self.reject(&[(line, cells)], &r.column, &r.reason);
        };
        let column = self.key_column();
        let group =
            self.orders.get_or_insert_with(|| Group { key, rows: Vec::new(), lines: Vec::new(), poisoned: None });
        for (row, r) in add(group, (line, cells), parsed, LINE_ITEMS_MAX, &column) {
            self.reject(&[row], &r.column, &r.reason)?;
        }
        Ok(())
    }

    fn product_row(&mut self, line: u64, cells: Vec<String>) -> Result<(), ImportError> {
        let refs: Vec<&str> = cells.iter().map(String::as_str).collect();
        let key = self.m.key(&refs);
        if self.product_rows.as_ref().is_some_and(|g| Some(&g.key) != key.as_ref()) {
            self.finish_product()?;
        }
        let parsed = csv_rows::product_line(&self.m, &refs);
        let Some(key) = key else {
            let r = parsed.err().unwrap_or_else(|| Rejection::new("", "the row has no product id"));
            return self.reject(&[(line, cells)], &r.column, &r.reason);
        };
        let column = self.key_column();
        let group =
            self.product_rows.get_or_insert_with(|| Group { key, rows: Vec::new(), lines: Vec::new(), poisoned: None });
        for (row, r) in add(group, (line, cells), parsed, CSV_PRODUCT_ROWS_MAX, &column) {
            self.reject(&[row], &r.column, &r.reason)?;
        }
        Ok(())
    }

    fn finish_order(&mut self) -> Result<(), ImportError> {
        let Some(g) = self.orders.take() else { return Ok(()) };
        if g.poisoned.is_some() {
            return Ok(()); // its rows were reported as they came
        }
        let key = order_key(&g.key);
        if self.known_orders.contains(&key) {
            self.summary.imported += g.rows.len() as u64;
            self.summary.already_stored += 1;
            return Ok(());
        }
        let column = self.key_column();
        match csv_rows::order_events(&g.lines, &column, &self.cx) {
            Ok(events) => {
                self.known_orders.insert(key);
                self.push(g.rows, events)
            }
            Err(r) => self.reject(&g.rows, &r.column, &r.reason),
        }
    }

    fn finish_product(&mut self) -> Result<(), ImportError> {
        let Some(g) = self.product_rows.take() else { return Ok(()) };
        if g.poisoned.is_some() {
            return Ok(()); // its rows were reported as they came
        }
        let column = self.key_column();
        match csv_rows::product(&g.lines, &column, &self.cx) {
            Ok(Some(p)) => {
                self.batch_rows += g.rows.len();
                self.products.push((g.rows, p));
                self.flush_if_full()
            }
            Ok(None) => Ok(()),
            Err(r) => self.reject(&g.rows, &r.column, &r.reason),
        }
    }

    fn key_column(&self) -> String {
        let field = match (self.kind, self.m.has("order_id"), self.m.has("id")) {
            (Kind::Orders, true, _) => "order_id",
            (Kind::Orders, false, _) => "order_number",
            (_, _, true) => "id",
            _ => "sku",
        };
        self.m.column(field)
    }

    fn push(&mut self, rows: Vec<Row>, events: Vec<Event>) -> Result<(), ImportError> {
        self.batch_rows += rows.len();
        self.batch.push(Pending { rows, events });
        self.flush_if_full()
    }

    fn flush_if_full(&mut self) -> Result<(), ImportError> {
        if self.batch_rows >= CSV_BATCH_ROWS { self.flush() } else { Ok(()) }
    }

    /// Hands the batch to the sink; the records it left out as naming an erased person are rejected.
    fn flush(&mut self) -> Result<(), ImportError> {
        self.batch_rows = 0;
        let products = std::mem::take(&mut self.products);
        if !products.is_empty() {
            let (rows, products): (Vec<Vec<Row>>, Vec<Product>) = products.into_iter().unzip();
            self.sink.products(products)?;
            self.summary.imported += rows.iter().map(|r| r.len() as u64).sum::<u64>();
        }
        let batch = std::mem::take(&mut self.batch);
        if batch.is_empty() {
            return Ok(());
        }
        let records: Vec<Vec<Event>> = batch.iter().map(|p| p.events.clone()).collect();
        let done = self.sink.records(records)?;
        self.summary.events_stored += done.stored as u64;
        self.summary.already_stored += done.duplicates as u64;
        for (i, p) in batch.into_iter().enumerate() {
            if done.erased_records.contains(&i) {
                self.reject(&p.rows, "", CSV_ERASED_REASON)?;
            } else {
                self.summary.imported += p.rows.len() as u64;
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), ImportError> {
        self.finish_order()?;
        self.finish_product()?;
        self.flush()
    }
}

/// Most line items of one order (the rows of one order in the file).
const LINE_ITEMS_MAX: usize = kairos_integrations::LINE_ITEMS_MAX;

/// Adds a row to its group. A rejected row, or one past `rows_max`, poisons the group: it and the rows held
/// before it are answered at once (to report, in line order, with the column and reason of each), and so is every
/// later row of the group, so a long run of one id is never held.
fn add<L>(
    g: &mut Group<L>,
    row: Row,
    parsed: Result<L, Rejection>,
    rows_max: usize,
    key_column: &str,
) -> Vec<(Row, Rejection)> {
    let bad = match (&g.poisoned, parsed) {
        (Some((bad, r)), _) => return vec![(row, others(*bad, r))],
        (None, Ok(l)) if g.lines.len() < rows_max => {
            g.lines.push(l);
            g.rows.push(row);
            return Vec::new();
        }
        (None, Ok(_)) => Rejection::new(key_column, format!("at most {rows_max} rows may share an id")),
        (None, Err(r)) => r,
    };
    g.lines.clear();
    let mut out: Vec<(Row, Rejection)> =
        std::mem::take(&mut g.rows).into_iter().map(|h| (h, others(row.0, &bad))).collect();
    g.poisoned = Some((row.0, bad.clone()));
    out.push((row, bad));
    out
}

/// The rejection of the other rows of a group rejected at line `bad`.
fn others(bad: u64, r: &Rejection) -> Rejection {
    Rejection::new(r.column.clone(), format!("another row with this id was rejected (line {bad})"))
}

#[cfg(test)]
mod tests;
